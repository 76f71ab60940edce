// CUDA attention and rotary embedding (contracts in gmai/ops/attention.h), fp32 throughout.
//
// Attention is flash style like the CPU kernel: a thread block takes kRows query rows of one
// sequence that share a kv head — rows are (query, head of the group) pairs, as on the CPU,
// so with grouped-query attention a K/V tile serves all g heads — and walks the keys in tiles
// of 32 staged in shared memory, with a running max and sum per row (online softmax). One warp
// per row: lane j scores key j of the tile, then every lane accumulates its own output dims.
// cuSeqlensQ/K are host arrays; they go to the device with the list of blocks in one copy.
#include <stdexcept>
#include <string>
#include <vector>

#include "common.cuh"

namespace gmai::cuda {

namespace {

constexpr int kRows = 8;                    // query rows per block, one warp each
constexpr int kKeys = 32;                   // keys per shared-memory tile, one lane each
constexpr int kAttnThreads = kRows * 32;
constexpr unsigned kAllLanes = 0xffffffffu;
constexpr int64_t kMaxHeadDim = 256;

__device__ __forceinline__ float warpMax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kAllLanes, v, o));
  return v;
}
__device__ __forceinline__ float warpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kAllLanes, v, o);
  return v;
}

// Block x: one entry of `items` (sequence, first flat row); block y: the kv head. Flat row
// r of a sequence is query r / g with head (kv head)·g + r % g. Lane d of a warp owns output
// dims d, d + 32, … (kDimsPerLane of them: head dims up to 32·kDimsPerLane).
template <int kDimsPerLane>
__global__ void __launch_bounds__(kAttnThreads)
attentionKernel(AttentionArgs a, const int32_t* cuQ, const int32_t* cuK, const int64_t* items) {
  extern __shared__ float smem[];
  const int64_t D = a.D, g = a.Hq / a.Hkv, kvh = blockIdx.y;
  const int stride = int(D | 1);  // odd row stride: lane j reading row j hits bank (j·stride + d) % 32, all distinct
  float* Ks = smem;
  float* Vs = Ks + kKeys * stride;
  float* Qs = Vs + kKeys * stride;  // [kRows][D], scaled queries

  const int64_t seq = items[2 * blockIdx.x], r0 = items[2 * blockIdx.x + 1];
  const int64_t qBase = cuQ[seq], kBase = cuK[seq];
  const int64_t lenQ = cuQ[seq + 1] - qBase, lenK = cuK[seq + 1] - kBase, offset = lenK - lenQ;
  const int rowsHere = int(min(int64_t(kRows), lenQ * g - r0));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const bool active = warp < rowsHere;
  const int64_t qi = (r0 + warp) / g, h = kvh * g + (r0 + warp) % g;

  for (int64_t e = threadIdx.x; e < rowsHere * D; e += kAttnThreads) {
    const int64_t rr = r0 + e / D;
    Qs[e] = a.q[((qBase + rr / g) * a.Hq + kvh * g + rr % g) * D + e % D] * a.scale;  // scaled first, as the CPU
  }
  // Causal: query i sees keys j <= i + offset; the block's last query bounds the tiles.
  const int64_t lastQuery = (r0 + rowsHere - 1) / g;
  const int64_t kEnd = a.causal ? max(int64_t(0), min(lenK, lastQuery + offset + 1)) : lenK;
  const int64_t lastKey = a.causal ? qi + offset : lenK - 1;  // of this warp's row

  float m = -INFINITY, l = 0.0f, o[kDimsPerLane];
  for (int i = 0; i < kDimsPerLane; ++i) o[i] = 0.0f;
  for (int64_t k0 = 0; k0 < kEnd; k0 += kKeys) {
    const int n = int(min(int64_t(kKeys), kEnd - k0));
    __syncthreads();  // the previous tile is consumed (and Qs is written before the first)
    for (int64_t e = threadIdx.x; e < kKeys * D; e += kAttnThreads) {
      const int64_t j = e / D, d = e % D;
      float kv = 0.0f, vv = 0.0f;  // rows past the tile's keys are zeros, never garbage (0·NaN)
      if (j < n) {
        const int64_t at = ((kBase + k0 + j) * a.Hkv + kvh) * D + d;
        kv = a.k[at];
        vv = a.v[at];
      }
      Ks[j * stride + d] = kv;
      Vs[j * stride + d] = vv;
    }
    __syncthreads();
    if (!active) continue;
    const bool visible = lane < n && k0 + lane <= lastKey;
    float score = -INFINITY;
    if (visible) {
      const float* qr = Qs + warp * D;
      const float* kr = Ks + lane * stride;
      float dot = 0.0f;
      for (int64_t d = 0; d < D; ++d) dot += qr[d] * kr[d];
      score = dot;
    }
    const float mNew = fmaxf(m, warpMax(score));
    if (mNew == -INFINITY) continue;     // nothing visible to this row yet (warp-uniform)
    const float corr = expf(m - mNew);   // 0 while m is still -inf
    const float p = visible ? expf(score - mNew) : 0.0f;
    l = l * corr + warpSum(p);
    m = mNew;
    for (int i = 0; i < kDimsPerLane; ++i) o[i] *= corr;
    for (int j = 0; j < n; ++j) {
      const float pj = __shfl_sync(kAllLanes, p, j);
      const float* vr = Vs + j * stride;
      for (int i = 0; i < kDimsPerLane; ++i) {
        const int64_t d = lane + 32 * i;
        if (d < D) o[i] += pj * vr[d];
      }
    }
  }
  if (!active) return;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;  // a row that saw no key: zeros
  float* out = a.out + ((qBase + qi) * a.Hq + h) * D;
  for (int i = 0; i < kDimsPerLane; ++i) {
    const int64_t d = lane + 32 * i;
    if (d < D) out[d] = o[i] * inv;
  }
  if (a.lse && lane == 0) a.lse[h * a.Tq + qBase + qi] = l > 0.0f ? m + logf(l) : -INFINITY;
}

template <int kDimsPerLane>
void launchAttention(const AttentionArgs& a, const int32_t* cuQ, const int32_t* cuK, const int64_t* items,
                     int64_t blocks, cudaStream_t stream) {
  const size_t smem = size_t(2 * kKeys * (a.D | 1) + kRows * a.D) * sizeof(float);
  if (smem > 48 * 1024)  // above the default limit a kernel must opt in
    check(cudaFuncSetAttribute(attentionKernel<kDimsPerLane>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)),
          "attention: shared memory");
  attentionKernel<kDimsPerLane><<<dim3(unsigned(blocks), unsigned(a.Hkv)), kAttnThreads, smem, stream>>>(a, cuQ, cuK, items);
  checkLaunch("attention");
}

// Rotate-half rotary embedding, one thread per pair (i, i + D/2), so out may alias x. Plain
// float roundings (no FMA), like the CPU, so the two backends agree bitwise. sinSign −1 gives
// the transpose (ropeBackward).
__global__ void ropeKernel(RopeArgs a, float sinSign) {
  const int64_t half = a.D / 2, i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= a.T * a.H * half) return;
  const int64_t t = i / (a.H * half), d = i % half, row = i / half;  // row = t·H + h
  const float c = a.cos[t * half + d], s = sinSign * a.sin[t * half + d];
  const float x1 = a.x[row * a.D + d], x2 = a.x[row * a.D + d + half];
  a.out[row * a.D + d] = __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s));
  a.out[row * a.D + d + half] = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s));
}

}  // namespace

void attention(const Context& ctx, const AttentionArgs& a) {
  if (a.D > kMaxHeadDim)
    throw std::invalid_argument("attention: head size " + std::to_string(a.D) + " is above the CUDA kernel's limit of " +
                                std::to_string(kMaxHeadDim));
  const cudaStream_t stream = streamOf(ctx);
  const int64_t g = a.Hq / a.Hkv;
  std::vector<int32_t> cuQ{0, int32_t(a.Tq)}, cuK{0, int32_t(a.Tk)};  // one sequence unless packed
  if (a.cuSeqlensQ) {
    cuQ.assign(a.cuSeqlensQ, a.cuSeqlensQ + a.numSeqs + 1);
    cuK.assign(a.cuSeqlensK, a.cuSeqlensK + a.numSeqs + 1);
  }
  std::vector<int64_t> items;  // (sequence, first flat row) per block
  for (size_t s = 0; s + 1 < cuQ.size(); ++s)
    for (int64_t r0 = 0; r0 < int64_t(cuQ[s + 1] - cuQ[s]) * g; r0 += kRows) items.insert(items.end(), {int64_t(s), r0});
  const int64_t blocks = int64_t(items.size()) / 2;
  if (blocks == 0) return;
  HostPack pack;
  const size_t qAt = pack.add(cuQ.data(), cuQ.size()), kAt = pack.add(cuK.data(), cuK.size());
  const size_t itemsAt = pack.add(items.data(), items.size());
  DeviceBuffer dev(pack.size(), stream);
  pack.upload(dev, stream);
  const auto* dq = reinterpret_cast<const int32_t*>(dev.data() + qAt);
  const auto* dk = reinterpret_cast<const int32_t*>(dev.data() + kAt);
  const auto* di = reinterpret_cast<const int64_t*>(dev.data() + itemsAt);
  if (a.D <= 128) launchAttention<4>(a, dq, dk, di, blocks, stream);
  else launchAttention<8>(a, dq, dk, di, blocks, stream);
}

void rope(const Context& ctx, const RopeArgs& a) {
  constexpr int kThreads = 256;
  ropeKernel<<<blocksFor(a.T * a.H * (a.D / 2), kThreads), kThreads, 0, streamOf(ctx)>>>(a, 1.0f);
  checkLaunch("rope");
}

void ropeBackward(const Context& ctx, const RopeArgs& a) {
  constexpr int kThreads = 256;
  ropeKernel<<<blocksFor(a.T * a.H * (a.D / 2), kThreads), kThreads, 0, streamOf(ctx)>>>(a, -1.0f);
  checkLaunch("ropeBackward");
}

}  // namespace gmai::cuda
