// GEMM entry point (placeholder plain loops; the blocked, ISA-dispatched kernel replaces it).
#include "gmai/ops.h"
#include "../simd.h"

namespace gmai::cpu {

void gemm(const Context& ctx, const GemmArgs& g) {
  ctx.pool->parallelFor(g.batch * g.M, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t b = r / g.M, i = r % g.M;
      const float* a = g.A + b * g.strideA + i * g.lda;
      float* c = g.C + b * g.strideC + i * g.ldc;
      const char* B = static_cast<const char*>(g.B) + b * g.strideB * int64_t(dtypeSize(g.dtypeB));
      for (int64_t j = 0; j < g.N; ++j) {
        float acc = 0;
        for (int64_t k = 0; k < g.K; ++k) {
          int64_t idx = g.bTransposed ? j * g.ldb + k : k * g.ldb + j;
          acc += a[k] * loadAsFloat(B, g.dtypeB, idx);
        }
        float v = g.alpha * acc + (g.bias ? g.bias[j] : 0.0f);
        c[j] = g.beta == 0.0f ? v : v + g.beta * c[j];
      }
    }
  });
}

}  // namespace gmai::cpu
