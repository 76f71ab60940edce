// gmai::cpu::gemm: picks the implementation for this CPU (AVX-512, AVX2+FMA or portable; see
// gemm_isa.h) once, and holds the small helpers the ISA units share.
#include <cstdlib>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <new>

#include "gemm_isa.h"

namespace gmai::cpu {

namespace gemm_detail {

namespace {
struct AlignedFloats {
  float* data = nullptr;
  size_t capacity = 0;
  ~AlignedFloats() { std::free(data); }
};
}  // namespace

float* threadScratch(int slot, size_t count) {
  thread_local AlignedFloats slots[4];
  AlignedFloats& b = slots[slot];
  if (count > b.capacity) {
    // Whole 2 MB huge pages where the kernel offers them: a micro-kernel streams ~350 KB of
    // packed panels, which would otherwise cost a TLB miss every 4 KB (about 3% at 2048³).
    constexpr size_t kHuge = size_t(2) << 20;
    size_t bytes = (count * sizeof(float) + kHuge - 1) / kHuge * kHuge;
    float* p = static_cast<float*>(std::aligned_alloc(kHuge, bytes));
    if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);  // advice only: failure just means 4 KB pages
#endif
    std::free(b.data);
    b.data = p;
    b.capacity = bytes / sizeof(float);
  }
  return b.data;
}

}  // namespace gemm_detail

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
