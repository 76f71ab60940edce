// gmai::cpu::gemm: picks the implementation for this CPU (AVX-512, AVX2+FMA or portable; see
// gemm_isa.h) once.
#include "gemm_isa.h"

namespace gmai::cpu {


namespace {
gemm_detail::GemmImpl pickGemm() {
#if defined(__x86_64__)
  const CpuFeatures& f = cpuFeatures();
  if (f.isa == CpuIsa::Avx512) return {&gemm_avx512::gemm, &gemm_avx512::gemmGroup};
  if (f.isa == CpuIsa::Avx2Fma && f.f16c) return {&gemm_avx2::gemm, &gemm_avx2::gemmGroup};
#endif
  return {&gemm_portable::gemm, &gemm_portable::gemmGroup};
}
const gemm_detail::GemmImpl& impl() {
  static const gemm_detail::GemmImpl chosen = pickGemm();  // CPU features never change
  return chosen;
}
}  // namespace

void gemm(const Context& ctx, const GemmArgs& g) { impl().gemm(ctx, g); }
void gemmGroup(const Context& ctx, const GemmGroupArgs& g) { impl().gemmGroup(ctx, g); }

}  // namespace gmai::cpu
