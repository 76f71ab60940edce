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
// Four streams at once (quarters of the range), as a GEMV reading several weight rows does:
// more open DRAM pages and prefetch streams than one sequential read.
GMAI_MULTIVERSION uint64_t sumWords(const uint64_t* p, int64_t n) {
  const int64_t q = n / 4;
  const uint64_t *p0 = p, *p1 = p + q, *p2 = p + 2 * q, *p3 = p + 3 * q;
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int64_t i = 0; i < q; ++i) { s0 += p0[i]; s1 += p1[i]; s2 += p2[i]; s3 += p3[i]; }
  for (int64_t i = 4 * q; i < n; ++i) s0 += p[i];
  return s0 + s1 + s2 + s3;
}
}  // namespace

// The probe's buffer, kept per calling thread: benchmarks probe between timed runs, and a
// fresh buffer each time would add a burst of page faults (and their aftermath) to the runs.
struct ProbeBuffer {
  uint64_t* data = nullptr;
  int64_t words = 0;
  ~ProbeBuffer() { std::free(data); }
};

ProbeResult probeReadBandwidth(const Context& ctx, size_t bytes, int reps) {
  const int64_t words = int64_t(bytes / 8);
  thread_local ProbeBuffer held;
  if (held.words < words) {
    std::free(held.data);
    held.data = static_cast<uint64_t*>(std::aligned_alloc(64, size_t(words) * 8));
    held.words = held.data ? words : 0;
    if (!held.data) throw std::bad_alloc();
    // Written by the threads that will read it (first touch places pages near them).
    uint64_t* buf = held.data;
    ctx.pool->run([&](int tid, int n) {
      for (int64_t i = words * tid / n, e = words * (tid + 1) / n; i < e; ++i) buf[i] = uint64_t(i);
    });
  }
  uint64_t* buf = held.data;
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
  return best;
}

}  // namespace gmai::cpu
