// Blocked GEMM in the style of BLIS / GotoBLAS, as a template over the vector width:
//   for each NC-wide slice of C's columns
//     for each KC-deep slice of K: pack op(B)[KC, NC] into NR-wide micro-panels (bf16/f16
//       widened to float32 here, so weights stay 16-bit in memory)
//       for each MC-tall slice of A: pack A[MC, KC] into MR-tall micro-panels
//         for each (MR × NR) tile: the micro-kernel, MR·NR/W vector accumulators in registers.
// The first K slice applies beta and the bias; later slices accumulate.
#pragma once
#include <algorithm>
#include <vector>

#include "gmai/ops.h"
#include "vec.h"

namespace gmai::cpu::blocked {

// Reads element (k, j) of op(B) as float for each storage type and layout.
struct BReader {
  const void* base; DType type; bool transposed; int64_t ldb;
  GMAI_INLINE float at(int64_t k, int64_t j) const {
    int64_t i = transposed ? j * ldb + k : k * ldb + j;
    switch (type) {
      case DType::BF16: return bf16ToF32(static_cast<const uint16_t*>(base)[i]);
      case DType::F16: return f16ToF32(static_cast<const uint16_t*>(base)[i]);
      default: return static_cast<const float*>(base)[i];
    }
  }
};

template <int W, int MR, int NRV>
struct Kernel {
  using V = simd::Vec<W>;
  using F = typename V::F;
  static constexpr int NR = W * NRV;
  static constexpr int64_t KC = 256;
  static constexpr int64_t MC = MR * (W >= 16 ? 12 : 12);
  static constexpr int64_t NC = NR * 128;

  // Packs op(B)[k0:k0+kc, j0:j0+nc] into ceil(nc/NR) panels of [kc][NR], zero padded.
  static GMAI_INLINE void packB(const BReader& b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* dst) {
    for (int64_t p = 0; p < nc; p += NR) {
      float* panel = dst + p * kc;
      const int64_t n = std::min<int64_t>(NR, nc - p);
      if (b.transposed) {  // rows of B are columns of op(B): read along k, write with stride NR
        for (int64_t jj = 0; jj < n; ++jj)
          for (int64_t k = 0; k < kc; ++k) panel[k * NR + jj] = b.at(k0 + k, j0 + p + jj);
      } else {
        for (int64_t k = 0; k < kc; ++k)
          for (int64_t jj = 0; jj < n; ++jj) panel[k * NR + jj] = b.at(k0 + k, j0 + p + jj);
      }
      if (n < NR)
        for (int64_t k = 0; k < kc; ++k)
          for (int64_t jj = n; jj < NR; ++jj) panel[k * NR + jj] = 0.0f;
    }
  }

  // Packs A[i0:i0+mc, k0:k0+kc] into ceil(mc/MR) panels of [kc][MR], zero padded.
  static GMAI_INLINE void packA(const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* dst) {
    for (int64_t p = 0; p < mc; p += MR) {
      float* panel = dst + p * kc;
      const int64_t m = std::min<int64_t>(MR, mc - p);
      for (int64_t ii = 0; ii < m; ++ii) {
        const float* row = A + (i0 + p + ii) * lda + k0;
        for (int64_t k = 0; k < kc; ++k) panel[k * MR + ii] = row[k];
      }
      for (int64_t ii = m; ii < MR; ++ii)
        for (int64_t k = 0; k < kc; ++k) panel[k * MR + ii] = 0.0f;
    }
  }

  struct Epilogue {
    float alpha, beta;
    const float* bias;  // already offset to the tile's first column, or null
    bool first;         // first K slice: apply beta and bias; otherwise accumulate
  };

  // C[0:mr, 0:nr] (+)= alpha · Apanel · Bpanel over kc.
  static GMAI_INLINE void micro(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                                int64_t mr, int64_t nr, const Epilogue& e) {
    F acc[MR][NRV];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NRV; ++j) acc[i][j] = F{};
    for (int64_t k = 0; k < kc; ++k) {
      F bv[NRV];
      for (int j = 0; j < NRV; ++j) bv[j] = V::load(b + k * NR + j * W);
      for (int i = 0; i < MR; ++i) {
        const F av = V::splat(a[k * MR + i]);
        for (int j = 0; j < NRV; ++j) acc[i][j] += av * bv[j];
      }
    }
    alignas(64) float tile[MR][NR];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NRV; ++j) V::store(&tile[i][j * W], acc[i][j]);
    for (int64_t i = 0; i < mr; ++i) {
      float* row = c + i * ldc;
      if (!e.first) {
        for (int64_t j = 0; j < nr; ++j) row[j] += e.alpha * tile[i][j];
      } else if (e.beta == 0.0f) {  // C is write-only: its old contents (even NaN) are ignored
        for (int64_t j = 0; j < nr; ++j) row[j] = e.alpha * tile[i][j] + (e.bias ? e.bias[j] : 0.0f);
      } else {
        for (int64_t j = 0; j < nr; ++j) row[j] = e.alpha * tile[i][j] + e.beta * row[j] + (e.bias ? e.bias[j] : 0.0f);
      }
    }
  }

  // C[:, n0:n1] of batch b. packA/packB are this thread's scratch buffers.
  static GMAI_INLINE void run(const GemmArgs& g, int64_t batch, int64_t n0, int64_t n1,
                              std::vector<float>& bufA, std::vector<float>& bufB) {
    const float* A = g.A + batch * g.strideA;
    float* C = g.C + batch * g.strideC;
    const size_t bytesB = g.dtypeB == DType::F32 ? 4 : 2;
    const BReader b{static_cast<const char*>(g.B) + batch * g.strideB * int64_t(bytesB), g.dtypeB, g.bTransposed, g.ldb};
    bufA.resize(size_t(MC * KC));
    bufB.resize(size_t(NC * KC));
    for (int64_t jc = n0; jc < n1; jc += NC) {
      const int64_t nc = std::min(NC, n1 - jc);
      for (int64_t pc = 0; pc < g.K; pc += KC) {
        const int64_t kc = std::min(KC, g.K - pc);
        packB(b, pc, kc, jc, nc, bufB.data());
        for (int64_t ic = 0; ic < g.M; ic += MC) {
          const int64_t mc = std::min(MC, g.M - ic);
          packA(A, g.lda, ic, mc, pc, kc, bufA.data());
          for (int64_t jr = 0; jr < nc; jr += NR) {
            const Epilogue e{g.alpha, g.beta, g.bias ? g.bias + jc + jr : nullptr, pc == 0};
            for (int64_t ir = 0; ir < mc; ir += MR)
              micro(kc, bufA.data() + ir * kc, bufB.data() + jr * kc, C + (ic + ir) * g.ldc + jc + jr, g.ldc,
                    std::min<int64_t>(MR, mc - ir), std::min<int64_t>(NR, nc - jr), e);
          }
        }
      }
    }
  }
};

}  // namespace gmai::cpu::blocked
