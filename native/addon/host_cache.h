// Recycled host memory for large CPU tensors. A training step allocates the same activation and
// gradient sizes every time; through plain malloc/free, blocks this large are mapped fresh from
// the kernel on each allocation (glibc hands them to mmap and unmaps them on free), so every step
// paid a page fault per 4 KB touched — about 19,000 per step of `gmai bench train` (~90 with
// this cache). Freed blocks are kept here, by exact size, up to a cap, and reused.
#pragma once
#include <cstddef>

namespace gmai {

// Blocks below this size stay with malloc (its own free lists serve them without faults).
constexpr size_t kHostCacheMinBytes = size_t(64) << 10;

// A block of at least `bytes` bytes (malloc'd or recycled); give it back with hostRelease(p, bytes).
void* hostAcquire(size_t bytes);
void hostRelease(void* p, size_t bytes);

struct HostCacheStats {
  size_t cachedBytes;  // held for reuse now
  size_t capBytes;     // most it will hold (GMAI_HOST_CACHE_MB; 0 turns the cache off)
};
HostCacheStats hostCacheStats();
// Frees every cached block; returns the bytes released.
size_t hostCacheTrim();

}  // namespace gmai
