// Shared by the CPU and CUDA backends (header-only, no std::).
#pragma once

// Coefficients of expNonPositive (Cephes expf): x = n·ln2 + r with ln2 split in two,
// exp(r) ≈ 1 + r + r²·P(r). Every implementation (scalar, AVX2, attention's lanes, CUDA) uses
// these, so they all round alike.
namespace gmai::expPoly {
inline constexpr float kFloor = -87.3f;  // below this exp underflows float: return exactly 0
inline constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
inline constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                       kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;
}  // namespace gmai::expPoly
