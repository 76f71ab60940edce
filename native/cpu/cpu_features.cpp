#include <cstdlib>
#include <cstring>

#include "gmai/context.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace gmai {

namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  bool osxsave = c & bit_OSXSAVE, fma = c & bit_FMA, avx = c & bit_AVX;
  f.f16c = c & bit_F16C;
  if (!osxsave || !avx) return f;
  unsigned xlo, xhi;
  __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  bool ymmOs = (xlo & 0x6) == 0x6, zmmOs = (xlo & 0xe6) == 0xe6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  bool avx2 = b & bit_AVX2;
  bool avx512f = b & bit_AVX512F, avx512bw = b & bit_AVX512BW, avx512vl = b & bit_AVX512VL,
       avx512dq = b & bit_AVX512DQ;
  if (ymmOs && avx2 && fma) f.isa = CpuIsa::Avx2Fma;
  if (zmmOs && avx512f && avx512bw && avx512vl && avx512dq && f.isa == CpuIsa::Avx2Fma) {
    f.isa = CpuIsa::Avx512;
    unsigned a1, b1, c1, d1;
    if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) f.avx512bf16 = a1 & (1u << 5);
  }
#endif
  if (const char* cap = std::getenv("GMAI_CPU_ISA")) {
    if (!std::strcmp(cap, "portable")) { f.isa = CpuIsa::Portable; f.avx512bf16 = false; }
    else if (!std::strcmp(cap, "avx2") && f.isa == CpuIsa::Avx512) { f.isa = CpuIsa::Avx2Fma; f.avx512bf16 = false; }
  }
  return f;
}

}  // namespace

const CpuFeatures& cpuFeatures() {
  static const CpuFeatures features = detect();  // immutable after first use
  return features;
}

const char* cpuIsaName(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Avx512: return "avx512";
    case CpuIsa::Avx2Fma: return "avx2";
    default: return "portable";
  }
}

}  // namespace gmai
