// GEMM entry point: picks the small-M streaming path or the blocked path, the instruction set
// (from CPUID, see cpu_features.cpp), and splits the work over the thread pool.
#include <algorithm>

#include "blocked.h"
#include "gemv.h"
#include "gmai/ops.h"

namespace gmai::cpu {

namespace {

// Work split: each unit is (batch entry, contiguous slice of C's columns).
struct Split {
  int64_t slicesPerBatch, sliceWidth;
};

Split splitColumns(const GemmArgs& g, int threads, int64_t align) {
  // Enough slices to feed every thread, each a multiple of `align` columns.
  int64_t perBatch = g.batch >= threads ? 1 : (threads + g.batch - 1) / g.batch;
  int64_t width = (g.N + perBatch - 1) / perBatch;
  width = (width + align - 1) / align * align;
  perBatch = (g.N + width - 1) / width;
  return {perBatch, width};
}

// Everything the kernels do for one unit, compiled per instruction set. The blocked and gemv
// templates are force-inlined into these, so they are built for the wrapper's target.
#define GMAI_GEMM_VARIANT(NAME, TARGET, W, MR, NRV)                                                 \
  TARGET void NAME##Blocked(const GemmArgs& g, int64_t b, int64_t n0, int64_t n1) {                   \
    thread_local std::vector<float> packA, packB;                                                     \
    blocked::Kernel<W, MR, NRV>::run(g, b, n0, n1, packA, packB);                                     \
  }                                                                                                   \
  TARGET void NAME##Gemv(const GemmArgs& g, int64_t b, int64_t n0, int64_t n1) { gemv::run<W>(g, b, n0, n1); }

#if defined(__x86_64__) && defined(__GNUC__)
GMAI_GEMM_VARIANT(avx512, __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma"))), 16, 8, 2)
GMAI_GEMM_VARIANT(avx2, __attribute__((target("avx2,fma"))), 8, 6, 2)
#endif
GMAI_GEMM_VARIANT(portable, , 4, 6, 2)

using UnitFn = void (*)(const GemmArgs&, int64_t, int64_t, int64_t);

void gemmZeroK(const GemmArgs& g) {  // K == 0: C = beta·C + bias
  for (int64_t b = 0; b < g.batch; ++b)
    for (int64_t i = 0; i < g.M; ++i) {
      float* row = g.C + b * g.strideC + i * g.ldc;
      for (int64_t j = 0; j < g.N; ++j)
        row[j] = (g.beta == 0.0f ? 0.0f : g.beta * row[j]) + (g.bias ? g.bias[j] : 0.0f);
    }
}

}  // namespace

void gemm(const Context& ctx, const GemmArgs& g) {
  if (g.batch <= 0 || g.M <= 0 || g.N <= 0) return;
  if (g.K == 0) { gemmZeroK(g); return; }
  const CpuIsa isa = cpuFeatures().isa;
  const bool streaming = g.M <= 4 && g.bTransposed && (g.dtypeB == DType::F32 || g.dtypeB == DType::BF16);
  UnitFn fn;
#if defined(__x86_64__) && defined(__GNUC__)
  if (isa == CpuIsa::Avx512) fn = streaming ? avx512Gemv : avx512Blocked;
  else if (isa == CpuIsa::Avx2Fma) fn = streaming ? avx2Gemv : avx2Blocked;
  else
#endif
    fn = streaming ? portableGemv : portableBlocked;
  (void)isa;
  // Column slices: multiples of 64 keep every micro-panel whole and cache lines unshared.
  const Split s = splitColumns(g, ctx.pool->size(), streaming ? 8 : 64);
  const int64_t units = g.batch * s.slicesPerBatch;
  const double flops = 2.0 * double(g.batch) * double(g.M) * double(g.N) * double(g.K);
  const int64_t grain = flops < 2e5 ? units : 1;  // tiny products: threading costs more than it saves
  ctx.pool->parallelFor(units, grain, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t b = u / s.slicesPerBatch, slice = u % s.slicesPerBatch;
      const int64_t n0 = slice * s.sliceWidth, n1 = std::min(g.N, n0 + s.sliceWidth);
      if (n0 < n1) fn(g, b, n0, n1);
    }
  });
}

}  // namespace gmai::cpu
