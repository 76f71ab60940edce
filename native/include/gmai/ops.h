// The op table: every kernel is declared once, as an argument struct plus one function per
// backend with the same signature. native/cpu/ implements gmai::cpu::*, native/cuda/
// implements gmai::cuda::* (CUDA builds only); the addon picks one by the tensors' device.
//
// Conventions for all ops:
//  - tensors are contiguous, row-major; pointers are to the first element;
//  - float math accumulates in float32 (or wider) whatever the storage type;
//  - outputs are fully written (tests poison them with NaN beforehand);
//  - argument checking (shapes, dtypes, devices) happens in the addon, kernels trust their args.
#pragma once
#include "gmai/context.h"
#include "gmai/dtype.h"

#include "gmai/ops/gemm.h"
#include "gmai/ops/elementwise.h"
#include "gmai/ops/norm.h"
#include "gmai/ops/attention.h"
#include "gmai/ops/indexing.h"
#include "gmai/ops/sampling.h"
#include "gmai/ops/resize.h"
#include "gmai/ops/loss.h"
#include "gmai/ops/optim.h"

// The op list: every kernel once, as X(name, Args, backends). This list is the only place ops
// are declared (GMAI_DECLARE_OP below), the addon's opTable() reports it, and the GPU parity
// suite (test/gpu/parity.test.js) walks it and fails on any op it does not cover.
// backends: CpuAndCuda, or CpuOnly for ops whose CUDA kernel is not written (the addon raises a
// clear error on CUDA tensors).
#define GMAI_OPS(X)                                  \
  X(gemm, GemmArgs, CpuAndCuda)                      \
  X(gemmGroup, GemmGroupArgs, CpuAndCuda)            \
  X(binary, BinaryArgs, CpuAndCuda)                  \
  X(scale, ScaleArgs, CpuAndCuda)                    \
  X(swiglu, SwigluArgs, CpuAndCuda)                  \
  X(softmax, SoftmaxArgs, CpuAndCuda)                \
  X(convert, ConvertArgs, CpuAndCuda)                \
  X(embedding, EmbeddingArgs, CpuAndCuda)            \
  X(rmsnorm, RmsNormArgs, CpuAndCuda)                \
  X(attention, AttentionArgs, CpuAndCuda)            \
  X(rope, RopeArgs, CpuAndCuda)                      \
  X(scatterRows, ScatterRowsArgs, CpuAndCuda)        \
  X(gelu, GeluArgs, CpuAndCuda)                      \
  X(sample, SampleArgs, CpuAndCuda)                  \
  X(resizeBicubic, ResizeArgs, CpuOnly)              \
  X(tokenLogprobs, TokenLogprobsArgs, CpuAndCuda)    \
  X(tokenLogprobsBackward, TokenLogprobsBackwardArgs, CpuAndCuda) \
  X(grpoTokenLoss, GrpoTokenLossArgs, CpuAndCuda)    \
  X(adamw, AdamwArgs, CpuAndCuda)                    \
  X(sumOfSquares, SumOfSquaresArgs, CpuAndCuda)      \
  X(swigluBackward, SwigluBackwardArgs, CpuAndCuda)  \
  X(softmaxBackward, SoftmaxBackwardArgs, CpuAndCuda) \
  X(sumRows, SumRowsArgs, CpuAndCuda)                \
  X(embeddingBackward, EmbeddingBackwardArgs, CpuAndCuda) \
  X(rmsnormBackward, RmsNormBackwardArgs, CpuAndCuda) \
  X(ropeBackward, RopeArgs, CpuAndCuda)              \
  X(geluBackward, GeluBackwardArgs, CpuAndCuda)      \
  X(attentionBackward, AttentionBackwardArgs, CpuAndCuda)

namespace gmai {
enum class OpBackends { CpuAndCuda, CpuOnly };
// GMAI_DECLARE_OP(gemm, GemmArgs, ...) declares cpu::gemm and cuda::gemm.
#define GMAI_DECLARE_OP(name, Args, backends)                \
  namespace cpu { void name(const Context&, const Args&); }  \
  namespace cuda { void name(const Context&, const Args&); }
GMAI_OPS(GMAI_DECLARE_OP)
#undef GMAI_DECLARE_OP
}  // namespace gmai
