// Peak fp32 FMA throughput: each thread runs many independent FMA chains (more chains than
// FMA latency x FMA ports, so the units never wait), for the widest ISA available.
#include <chrono>
#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "gmai/probe.h"

// GCC 12 false positive on the _mm512_undefined_* idiom inside its own intrinsics headers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace gmai::cpu {

namespace {

// Returns a value depending on every chain so the loop cannot be optimised away.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) float chainsAvx512(int64_t iters) {
  constexpr int kChains = 24;  // 32 zmm registers
  __m512 acc[kChains];
  const __m512 mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-7f);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(float(c));
  for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 24
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], mul, add);
  __m512 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_ps(s, acc[c]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) float chainsAvx2(int64_t iters) {
  constexpr int kChains = 12;  // 16 ymm registers; >= 5-cycle latency x 2 FMA ports
  __m256 acc[kChains];
  const __m256 mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-7f);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(float(c));
  for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], mul, add);
  __m256 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm256_add_ps(s, acc[c]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}
#endif

float chainsPortable(int64_t iters) {  // 4-wide GCC vectors: SSE2 or NEON
  typedef float V __attribute__((vector_size(16)));
  constexpr int kChains = 8;
  V acc[kChains];
  const V mul = {0.999999f, 0.999999f, 0.999999f, 0.999999f}, add = {1e-7f, 1e-7f, 1e-7f, 1e-7f};
  for (int c = 0; c < kChains; ++c) acc[c] = V{float(c), float(c), float(c), float(c)};
  for (int64_t i = 0; i < iters; ++i)
#pragma GCC unroll 8
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * mul + add;
  V s = acc[0];
  for (int c = 1; c < kChains; ++c) s += acc[c];
  return s[0] + s[1] + s[2] + s[3];
}

}  // namespace

ProbeResult probeFmaPeak(const Context& ctx, int64_t iters, int reps) {
  CpuIsa isa = cpuFeatures().isa;
  // flops per iteration per thread = chains x lanes x 2
  double flopsPerIter = isa == CpuIsa::Avx512 ? 24 * 16 * 2 : isa == CpuIsa::Avx2Fma ? 12 * 8 * 2 : 8 * 4 * 2;
  ProbeResult best{0, 0, cpuIsaName(isa)};
  volatile float sink = 0;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    int threads = 1;
    ctx.pool->run([&](int, int n) {
      threads = n;
      float v;
#if defined(__x86_64__)
      if (isa == CpuIsa::Avx512) v = chainsAvx512(iters);
      else if (isa == CpuIsa::Avx2Fma) v = chainsAvx2(iters);
      else
#endif
        v = chainsPortable(iters);
      sink = sink + v;
    });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double gflops = flopsPerIter * double(iters) * threads / s / 1e9;
    if (gflops > best.value) best = {gflops, s, best.isa};
  }
  return best;
}

}  // namespace gmai::cpu
