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

// GMAI_DECLARE_OP(gemm, GemmArgs) declares cpu::gemm and cuda::gemm.
#define GMAI_DECLARE_OP(name, Args)                    \
  namespace cpu { void name(const Context&, const Args&); }   \
  namespace cuda { void name(const Context&, const Args&); }

#include "gmai/ops/gemm.h"
#include "gmai/ops/elementwise.h"
#include "gmai/ops/norm.h"
#include "gmai/ops/attention.h"
#include "gmai/ops/indexing.h"
#include "gmai/ops/sampling.h"
