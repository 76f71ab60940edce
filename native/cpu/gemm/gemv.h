// Small-M GEMM against a weight stored [N, K] (a Linear weight): the decode case. Nothing is
// packed: each output is a dot product of a row of A with a row of B, four B rows at a time,
// so the weights stream from memory once at full bandwidth (bf16 widened in registers).
#pragma once
#include "gmai/ops.h"
#include "vec.h"

namespace gmai::cpu::gemv {

template <int W, int M, typename T>
struct Rows {
  using V = simd::Vec<W>;
  using F = typename V::F;
  static GMAI_INLINE F load(const T* p) {
    if constexpr (sizeof(T) == 2) return V::loadBf16(reinterpret_cast<const uint16_t*>(p));
    else return V::load(reinterpret_cast<const float*>(p));
  }
  static GMAI_INLINE float scalar(const T* p, int64_t i) {
    if constexpr (sizeof(T) == 2) return bf16ToF32(reinterpret_cast<const uint16_t*>(p)[i]);
    else return reinterpret_cast<const float*>(p)[i];
  }

  // C[0:M, j0:j1] for one batch entry.
  static GMAI_INLINE void run(const GemmArgs& g, const float* A, const T* B, float* C, int64_t j0, int64_t j1) {
    constexpr int JB = M <= 2 ? 4 : 2;  // B rows per pass: enough independent chains, few spills
    const int64_t K = g.K, kv = K / W * W;
    for (int64_t j = j0; j < j1; j += JB) {
      const int64_t nj = std::min<int64_t>(JB, j1 - j);
      F acc[M][JB];
      for (int m = 0; m < M; ++m)
        for (int jb = 0; jb < JB; ++jb) acc[m][jb] = F{};
      const T* brow[JB];
      for (int jb = 0; jb < JB; ++jb) brow[jb] = B + (j + std::min<int64_t>(jb, nj - 1)) * g.ldb;
      for (int64_t k = 0; k < kv; k += W) {
        F bv[JB];
        for (int jb = 0; jb < JB; ++jb) bv[jb] = load(brow[jb] + k);
        for (int m = 0; m < M; ++m) {
          const F av = V::load(A + m * g.lda + k);
          for (int jb = 0; jb < JB; ++jb) acc[m][jb] += av * bv[jb];
        }
      }
      for (int m = 0; m < M; ++m) {
        for (int64_t jb = 0; jb < nj; ++jb) {
          float s = V::sum(acc[m][jb]);
          for (int64_t k = kv; k < K; ++k) s += A[m * g.lda + k] * scalar(brow[jb], k);
          float* out = C + m * g.ldc + j + jb;
          const float v = g.alpha * s + (g.bias ? g.bias[j + jb] : 0.0f);
          *out = g.beta == 0.0f ? v : v + g.beta * *out;
        }
      }
    }
  }
};

// Dispatch on M (1..4) and the weight type (f32 or bf16).
template <int W>
GMAI_INLINE void run(const GemmArgs& g, int64_t batch, int64_t j0, int64_t j1) {
  const float* A = g.A + batch * g.strideA;
  float* C = g.C + batch * g.strideC;
  if (g.dtypeB == DType::BF16) {
    const uint16_t* B = static_cast<const uint16_t*>(g.B) + batch * g.strideB;
    switch (g.M) {
      case 1: Rows<W, 1, uint16_t>::run(g, A, B, C, j0, j1); break;
      case 2: Rows<W, 2, uint16_t>::run(g, A, B, C, j0, j1); break;
      case 3: Rows<W, 3, uint16_t>::run(g, A, B, C, j0, j1); break;
      default: Rows<W, 4, uint16_t>::run(g, A, B, C, j0, j1); break;
    }
  } else {
    const float* B = static_cast<const float*>(g.B) + batch * g.strideB;
    switch (g.M) {
      case 1: Rows<W, 1, float>::run(g, A, B, C, j0, j1); break;
      case 2: Rows<W, 2, float>::run(g, A, B, C, j0, j1); break;
      case 3: Rows<W, 3, float>::run(g, A, B, C, j0, j1); break;
      default: Rows<W, 4, float>::run(g, A, B, C, j0, j1); break;
    }
  }
}

}  // namespace gmai::cpu::gemv
