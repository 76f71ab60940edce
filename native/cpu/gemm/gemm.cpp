// gmai::cpu::gemm: picks the implementation for this CPU (AVX-512, AVX2+FMA or portable; see
// gemm_isa.h) once, and holds the small helpers the ISA units share.
#include <cstdlib>
#include <new>

#include "gemm_isa.h"

namespace gmai::cpu {

namespace gemm_detail {

FloatBuffer::FloatBuffer(size_t count) {
  size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
  data_ = static_cast<float*>(std::aligned_alloc(64, bytes ? bytes : 64));
  if (!data_) throw std::bad_alloc();
}
FloatBuffer::~FloatBuffer() { std::free(data_); }

}  // namespace gemm_detail

namespace {
gemm_detail::GemmFn pickGemm() {
#if defined(__x86_64__)
  const CpuFeatures& f = cpuFeatures();
  if (f.isa == CpuIsa::Avx512) return &gemm_avx512::gemm;
  if (f.isa == CpuIsa::Avx2Fma && f.f16c) return &gemm_avx2::gemm;
#endif
  return &gemm_portable::gemm;
}
}  // namespace

void gemm(const Context& ctx, const GemmArgs& g) {
  static const gemm_detail::GemmFn impl = pickGemm();  // CPU features never change
  impl(ctx, g);
}

}  // namespace gmai::cpu
