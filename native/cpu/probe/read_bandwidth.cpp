// Streaming read bandwidth: every thread sums its contiguous share of a large buffer. The sum
// is over integers so the compiler may vectorise it freely (GMAI_MULTIVERSION picks AVX2/512).
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "../simd.h"
#include "gmai/probe.h"

namespace gmai::cpu {

namespace {
GMAI_MULTIVERSION uint64_t sumWords(const uint64_t* p, int64_t n) {
  uint64_t s = 0;
  for (int64_t i = 0; i < n; ++i) s += p[i];
  return s;
}
}  // namespace

ProbeResult probeReadBandwidth(const Context& ctx, size_t bytes, int reps) {
  const int64_t words = int64_t(bytes / 8);
  auto* buf = static_cast<uint64_t*>(std::aligned_alloc(64, size_t(words) * 8));
  if (!buf) throw std::bad_alloc();
  // Written by the threads that will read it (first touch places pages near them).
  ctx.pool->run([&](int tid, int n) {
    for (int64_t i = words * tid / n, e = words * (tid + 1) / n; i < e; ++i) buf[i] = uint64_t(i);
  });
  ProbeResult best{0, 0, cpuIsaName(cpuFeatures().isa)};
  volatile uint64_t sink = 0;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    ctx.pool->run([&](int tid, int n) {
      int64_t b = words * tid / n, e = words * (tid + 1) / n;
      sink = sink + sumWords(buf + b, e - b);
    });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double gbps = double(words) * 8 / s / 1e9;
    if (gbps > best.value) best = {gbps, s, best.isa};
  }
  std::free(buf);
  return best;
}

}  // namespace gmai::cpu
