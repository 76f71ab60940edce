// Per-thread float scratch buffers, reused across calls and placed on 2 MB pages where the
// kernel offers them: fresh multi-megabyte buffers per call cost more in page faults than the
// work they hold (on some VMs several times more). A buffer stays valid until the same thread
// asks for the same slot again, so each kernel that nests calls uses its own slots.
#pragma once
#include <cstddef>

namespace gmai::cpu {

enum class ScratchSlot : int {
  GemmPackedA = 0, GemmPackedB, GemmSplitA, GemmTransposedA,  // the GEMM kernel
  LossChunk,                                                  // tokenLogprobs: a chunk's logits
  LossRows,                                                   // tokenLogprobs: one softmax row per thread
  Count
};

float* threadScratch(ScratchSlot slot, size_t count);

}  // namespace gmai::cpu
