// Element types shared by every backend. The numeric values are part of the addon ABI
// (lib/dtype.ts mirrors them), so only append.
#pragma once
#include <cstdint>
#include <cstring>
#include <cstddef>

namespace gmai {

enum class DType : int32_t {
  F32 = 0, BF16 = 1, F16 = 2, I32 = 3, I64 = 4, U8 = 5,
  F64 = 6, I16 = 7, I8 = 8, BOOL = 9,
};

constexpr size_t dtypeSize(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::BF16: case DType::F16: case DType::I16: return 2;
    case DType::U8: case DType::I8: case DType::BOOL: return 1;
  }
  return 0;
}

inline const char* dtypeName(DType t) {
  switch (t) {
    case DType::F32: return "float32"; case DType::BF16: return "bfloat16";
    case DType::F16: return "float16"; case DType::I32: return "int32";
    case DType::I64: return "int64"; case DType::U8: return "uint8";
    case DType::F64: return "float64"; case DType::I16: return "int16";
    case DType::I8: return "int8"; case DType::BOOL: return "bool";
  }
  return "unknown";
}

// bfloat16 is the upper half of an IEEE float32; rounding to nearest even, NaN kept quiet.
inline float bf16ToF32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16; float f; std::memcpy(&f, &u, 4); return f;
}
inline uint16_t f32ToBf16(float f) {
  uint32_t u; std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

// IEEE half precision, portable bit manipulation (the CPU kernels use F16C when present).
inline float f16ToF32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
  if (exp == 0) {
    if (man == 0) u = sign;
    else {  // subnormal: renormalise
      int e = -1;
      do { man <<= 1; ++e; } while (!(man & 0x400u));
      u = sign | (uint32_t(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
    }
  } else if (exp == 31) u = sign | 0x7f800000u | (man << 13);
  else u = sign | ((exp + 112u) << 23) | (man << 13);
  float f; std::memcpy(&f, &u, 4); return f;
}
inline uint16_t f32ToF16(float f) {
  uint32_t u; std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u) return uint16_t(sign | 0x7e00u);          // NaN
  if (absu >= 0x477ff000u) return uint16_t(sign | 0x7c00u);         // overflow -> inf
  if (absu < 0x38800000u) {                                         // subnormal or zero
    if (absu < 0x33000000u) return uint16_t(sign);
    // value / 2^-24 = mantissa (with implicit bit) * 2^(e - 126): shift right by 126 - e
    uint32_t e = absu >> 23, m = (absu & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e;
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (r & 1))) ++r;  // round half to even
    return uint16_t(sign | r);
  }
  uint32_t r = absu - 0x38000000u;  // rebias exponent 127 -> 15
  r = (r + 0xfffu + ((r >> 13) & 1u)) >> 13;
  return uint16_t(sign | r);
}

}  // namespace gmai
