// Per-thread scratch buffers (see scratch.h).
#include "scratch.h"

#include <cstdlib>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <new>

namespace gmai::cpu {

namespace {
struct AlignedFloats {
  float* data = nullptr;
  size_t capacity = 0;
  ~AlignedFloats() { std::free(data); }
};
}  // namespace

float* threadScratch(ScratchSlot slot, size_t count) {
  thread_local AlignedFloats slots[int(ScratchSlot::Count)];
  AlignedFloats& b = slots[int(slot)];
  if (count > b.capacity) {
    // Whole 2 MB huge pages where the kernel offers them: a GEMM micro-kernel streams ~350 KB
    // of packed panels, which would otherwise cost a TLB miss every 4 KB (about 3% at 2048³).
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

}  // namespace gmai::cpu
