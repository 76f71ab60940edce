// Internals shared by the GEMM translation units (not part of the op table).
//
// The blocked GEMM and the small-M (GEMV) path are written once, in gemm_impl.inc, over a
// few vector primitives. Each gemm_<isa>.cpp defines those primitives for one instruction set
// and includes the .inc inside its own namespace, with the whole unit compiled for that ISA
// (`#pragma GCC target`). gemm.cpp picks one at run time from cpuFeatures().
//
// Everything a kernel unit needs from the standard library is declared here, before the
// ISA pragma, so no inline std:: code is ever emitted with AVX2/AVX-512 enabled.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gmai/ops.h"
#include "../scratch.h"

namespace gmai::cpu::gemm_detail {


// One ISA's implementation of gmai::cpu::gemm and gemmGroup (defined by gemm_impl.inc).
struct GemmImpl {
  void (*gemm)(const Context&, const GemmArgs&);
  void (*gemmGroup)(const Context&, const GemmGroupArgs&);
};

}  // namespace gmai::cpu::gemm_detail

#define GMAI_GEMM_UNIT(isa)                                  \
  namespace gmai::cpu::gemm_##isa {                          \
  void gemm(const Context&, const GemmArgs&);                \
  void gemmGroup(const Context&, const GemmGroupArgs&);      \
  }
GMAI_GEMM_UNIT(portable)
#if defined(__x86_64__)
GMAI_GEMM_UNIT(avx2)
GMAI_GEMM_UNIT(avx512)
#endif
#undef GMAI_GEMM_UNIT
