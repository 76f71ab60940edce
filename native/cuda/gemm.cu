// CUDA GEMM with the same contract as the CPU one (native/include/gmai/ops/gemm.h).
// A shared-memory tiled kernel: each 16×16 thread block computes a 64×64 tile of C, each thread
// a 4×4 sub-tile; B is widened from bf16/f16 while it is staged in shared memory. cuBLAS(Lt),
// loaded at run time, replaces this on the CUDA milestone; this kernel stays as the fallback.
#include "common.cuh"

namespace gmai::cuda {

namespace {
constexpr int kTile = 64, kDepth = 16, kThreads = 16, kPer = kTile / kThreads;

__global__ void gemmTiled(GemmArgs g) {
  __shared__ float As[kDepth][kTile + 1];
  __shared__ float Bs[kDepth][kTile + 1];
  const int64_t b = blockIdx.z;
  const float* A = g.A + b * g.strideA;
  const char* B = static_cast<const char*>(g.B) + b * g.strideB * int64_t(dtypeSize(g.dtypeB));
  float* C = g.C + b * g.strideC;
  const int tx = threadIdx.x, ty = threadIdx.y, tid = ty * kThreads + tx;
  const int64_t row0 = int64_t(blockIdx.y) * kTile, col0 = int64_t(blockIdx.x) * kTile;
  float acc[kPer][kPer] = {};
  for (int64_t k0 = 0; k0 < g.K; k0 += kDepth) {
    // Stage A[row0.., k0..] and op(B)[k0.., col0..]: 64×16 elements each, 4 per thread.
    for (int e = tid; e < kTile * kDepth; e += kThreads * kThreads) {
      int r = e / kDepth, k = e % kDepth;
      int64_t gr = row0 + r, gk = k0 + k;
      As[k][r] = (gr < g.M && gk < g.K) ? A[g.aTransposed ? gk * g.lda + gr : gr * g.lda + gk] : 0.0f;
      int c = e % kTile, kk = e / kTile;
      int64_t gc = col0 + c, gkk = k0 + kk;
      float bv = 0.0f;
      if (gc < g.N && gkk < g.K)
        bv = loadAsFloat(B, g.dtypeB, g.bTransposed ? gc * g.ldb + gkk : gkk * g.ldb + gc);
      Bs[kk][c] = bv;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kDepth; ++k) {
      float a[kPer], bb[kPer];
#pragma unroll
      for (int i = 0; i < kPer; ++i) a[i] = As[k][ty + i * kThreads];
#pragma unroll
      for (int j = 0; j < kPer; ++j) bb[j] = Bs[k][tx + j * kThreads];
#pragma unroll
      for (int i = 0; i < kPer; ++i)
#pragma unroll
        for (int j = 0; j < kPer; ++j) acc[i][j] = fmaf(a[i], bb[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < kPer; ++i) {
    int64_t r = row0 + ty + i * kThreads;
    if (r >= g.M) continue;
    for (int j = 0; j < kPer; ++j) {
      int64_t c = col0 + tx + j * kThreads;
      if (c >= g.N) continue;
      float v = g.alpha * acc[i][j] + (g.bias ? g.bias[c] : 0.0f);
      float* out = C + r * g.ldc + c;
      *out = g.beta == 0.0f ? v : v + g.beta * *out;  // beta == 0: C is write-only
    }
  }
}
}  // namespace

void gemm(const Context& ctx, const GemmArgs& g) {
  dim3 block(kThreads, kThreads);
  dim3 grid(unsigned((g.N + kTile - 1) / kTile), unsigned((g.M + kTile - 1) / kTile), unsigned(g.batch));
  gemmTiled<<<grid, block, 0, streamOf(ctx)>>>(g);
  checkLaunch("gemm");
}

// Part by part: each launch already fills the GPU for any part worth grouping on a CPU.
void gemmGroup(const Context& ctx, const GemmGroupArgs& g) {
  for (int i = 0; i < g.count; ++i) gemm(ctx, g.parts[i]);
}

}  // namespace gmai::cuda
