// CUDA attention, its backward and rotary embedding (contracts in gmai/ops/attention.h), fp32
// throughout.
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

// Where sequence `seq` lives in the packed q and k/v, its lengths, and its causal offset: query i
// of the sequence sees keys j <= i + offset (bottom-right alignment, as the CPU kernels).
struct SeqSpan { int64_t qBase, kBase, lenQ, lenK, offset; };
__device__ __forceinline__ SeqSpan seqSpan(const int32_t* cuQ, const int32_t* cuK, int64_t seq) {
  const int64_t qBase = cuQ[seq], kBase = cuK[seq], lenQ = cuQ[seq + 1] - qBase, lenK = cuK[seq + 1] - kBase;
  return {qBase, kBase, lenQ, lenK, lenK - lenQ};
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
  const auto [qBase, kBase, lenQ, lenK, offset] = seqSpan(cuQ, cuK, seq);
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

// Launches kernel with `smem` bytes of dynamic shared memory (opting in above 48 KiB).
template <typename Kernel, typename... Args>
void launchWithSmem(Kernel kernel, const char* name, dim3 grid, size_t smem, cudaStream_t stream, Args... args) {
  if (smem > 48 * 1024)
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)), name);
  kernel<<<grid, kAttnThreads, smem, stream>>>(args...);
  checkLaunch(name);
}

template <int kDimsPerLane>
void launchAttention(const AttentionArgs& a, const int32_t* cuQ, const int32_t* cuK, const int64_t* items,
                     int64_t blocks, cudaStream_t stream) {
  const size_t smem = size_t(2 * kKeys * (a.D | 1) + kRows * a.D) * sizeof(float);
  launchWithSmem(attentionKernel<kDimsPerLane>, "attention", dim3(unsigned(blocks), unsigned(a.Hkv)), smem, stream, a, cuQ, cuK, items);
}

// ---- Backward -------------------------------------------------------------------------------
// Three kernels, each recomputing P = exp(Qs·Kᵀ − lse) (Qs = q·scale, as the forward) from the
// saved lse, with dS = P ∘ (dO·Vᵀ − D):
//  - attentionDeltaKernel: D = Σ_d dO·O per row (one warp a row), into a scratch buffer;
//  - attentionDkDvKernel: a block owns kKeys keys of one sequence and kv head (dk, dv of those
//    keys in registers) and walks every query row that sees them, kRows at a time: warp w
//    scores row w against the keys (lane j: key j) into P and dS in shared memory, then each
//    thread adds Σ_rows P·dO and Σ_rows dS·Qs to the (key, dim) elements it owns;
//  - attentionDqKernel: the forward's layout (a warp a row, key tiles of kKeys staged in shared
//    memory): lane j computes dS of key j, then every lane adds Σ_j dS_j·K_j to its dims.
// Every output element is written by one thread: no atomics, the same result every run.

// delta[h·Tq + t] = Σ_d dout[t,h,d]·out[t,h,d]; one warp per (t, h).
__global__ void attentionDeltaKernel(AttentionBackwardArgs a, float* delta) {
  const int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;  // t·Hq + h
  if (row >= a.Tq * a.Hq) return;  // warp-uniform
  const int lane = threadIdx.x % 32;
  float sum = 0.0f;
  for (int64_t d = lane; d < a.D; d += 32) sum += a.dout[row * a.D + d] * a.out[row * a.D + d];
  sum = warpSum(sum);
  if (lane == 0) delta[(row % a.Hq) * a.Tq + row / a.Hq] = sum;
}

// The scaled query rows and dO rows [rowsHere][D] of flat rows r0… (row r: query r / g, head
// kvh·g + r % g) into shared memory.
__device__ void loadQueryRows(const AttentionBackwardArgs& a, int64_t qBase, int64_t r0, int rowsHere, int64_t kvh,
                              float* Qs, float* dOs) {
  const int64_t D = a.D, g = a.Hq / a.Hkv;
  for (int64_t e = threadIdx.x; e < rowsHere * D; e += kAttnThreads) {
    const int64_t r = r0 + e / D;
    const int64_t at = ((qBase + r / g) * a.Hq + kvh * g + r % g) * D + e % D;
    Qs[e] = a.q[at] * a.scale;
    dOs[e] = a.dout[at];
  }
}

// Keys [k0, k0 + n) of kv head kvh into Ks, Vs [kKeys][stride]; rows past n are zeros.
__device__ void loadKeyTile(const AttentionBackwardArgs& a, int64_t kBase, int64_t k0, int n, int64_t kvh, int stride,
                            float* Ks, float* Vs) {
  for (int64_t e = threadIdx.x; e < kKeys * a.D; e += kAttnThreads) {
    const int64_t j = e / a.D, d = e % a.D;
    float kv = 0.0f, vv = 0.0f;
    if (j < n) {
      const int64_t at = ((kBase + k0 + j) * a.Hkv + kvh) * a.D + d;
      kv = a.k[at];
      vv = a.v[at];
    }
    Ks[j * stride + d] = kv;
    Vs[j * stride + d] = vv;
  }
}

// P and dS of one (row, key) pair: P = exp(s − lse) with s = Qs·k, dS = P·(dO·v − D).
struct ProbGrad { float p, ds; };
__device__ __forceinline__ ProbGrad probAndGrad(const float* qr, const float* dor, const float* kr, const float* vr,
                                                int64_t D, float lse, float delta) {
  float s = 0.0f, dp = 0.0f;
  for (int64_t d = 0; d < D; ++d) {
    s += qr[d] * kr[d];
    dp += dor[d] * vr[d];
  }
  const float p = expf(s - lse);
  return {p, p * (dp - delta)};
}

// Block x: one entry of `items` (sequence, first key); block y: the kv head. Thread t owns the
// elements e = t + i·kAttnThreads (key e / D, dim e % D) of the block's dk and dv.
template <int kElems>
__global__ void __launch_bounds__(kAttnThreads)
attentionDkDvKernel(AttentionBackwardArgs a, const int32_t* cuQ, const int32_t* cuK, const int64_t* items, const float* delta) {
  extern __shared__ float smem[];
  const int64_t D = a.D, g = a.Hq / a.Hkv, kvh = blockIdx.y;
  const int stride = int(D | 1);
  float* Ks = smem;
  float* Vs = Ks + kKeys * stride;
  float* Qs = Vs + kKeys * stride;  // [kRows][D]
  float* dOs = Qs + kRows * D;      // [kRows][D]
  float* Ps = dOs + kRows * D;      // [kRows][kKeys]
  float* dSs = Ps + kRows * kKeys;  // [kRows][kKeys]

  const int64_t seq = items[2 * blockIdx.x], k0 = items[2 * blockIdx.x + 1];
  const auto [qBase, kBase, lenQ, lenK, offset] = seqSpan(cuQ, cuK, seq);
  const int n = int(min(int64_t(kKeys), lenK - k0));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  loadKeyTile(a, kBase, k0, n, kvh, stride, Ks, Vs);

  float dk[kElems], dv[kElems];
  for (int i = 0; i < kElems; ++i) dk[i] = dv[i] = 0.0f;
  // Causal: query i sees key k0 only from i = k0 − offset on.
  const int64_t qStart = a.causal ? min(lenQ, max(int64_t(0), k0 - offset)) : 0;
  for (int64_t r0 = qStart * g; r0 < lenQ * g; r0 += kRows) {
    const int rowsHere = int(min(int64_t(kRows), lenQ * g - r0));
    __syncthreads();  // the previous rows are consumed (and the key tile is loaded)
    loadQueryRows(a, qBase, r0, rowsHere, kvh, Qs, dOs);
    __syncthreads();
    ProbGrad pg{0.0f, 0.0f};  // rows past rowsHere and keys the row does not see: zeros
    if (warp < rowsHere) {
      const int64_t qi = (r0 + warp) / g, h = kvh * g + (r0 + warp) % g, at = h * a.Tq + qBase + qi;
      const float lse = a.lse[at];  // -inf: the row saw no key
      if (lane < n && (!a.causal || k0 + lane <= qi + offset) && lse != -INFINITY)
        pg = probAndGrad(Qs + warp * D, dOs + warp * D, Ks + lane * stride, Vs + lane * stride, D, lse, delta[at]);
    }
    Ps[warp * kKeys + lane] = pg.p;
    dSs[warp * kKeys + lane] = pg.ds;
    __syncthreads();
    for (int i = 0; i < kElems; ++i) {
      const int64_t e = threadIdx.x + int64_t(i) * kAttnThreads;
      if (e >= kKeys * D) break;
      const int64_t j = e / D, d = e % D;
      for (int r = 0; r < rowsHere; ++r) {
        dv[i] += Ps[r * kKeys + j] * dOs[r * D + d];
        dk[i] += dSs[r * kKeys + j] * Qs[r * D + d];  // Qs = q·scale: dk = scale·dSᵀ·q
      }
    }
  }
  for (int i = 0; i < kElems; ++i) {
    const int64_t e = threadIdx.x + int64_t(i) * kAttnThreads, j = e / D, d = e % D;
    if (j >= n) break;
    const int64_t at = ((kBase + k0 + j) * a.Hkv + kvh) * D + d;
    a.dk[at] = dk[i];
    a.dv[at] = dv[i];
  }
}

// Block x: one entry of `items` (sequence, first flat row), as the forward; block y: the kv
// head. Lane d of a warp owns dq dims d, d + 32, … of the warp's row.
template <int kDimsPerLane>
__global__ void __launch_bounds__(kAttnThreads)
attentionDqKernel(AttentionBackwardArgs a, const int32_t* cuQ, const int32_t* cuK, const int64_t* items, const float* delta) {
  extern __shared__ float smem[];
  const int64_t D = a.D, g = a.Hq / a.Hkv, kvh = blockIdx.y;
  const int stride = int(D | 1);
  float* Ks = smem;
  float* Vs = Ks + kKeys * stride;
  float* Qs = Vs + kKeys * stride;  // [kRows][D]
  float* dOs = Qs + kRows * D;      // [kRows][D]

  const int64_t seq = items[2 * blockIdx.x], r0 = items[2 * blockIdx.x + 1];
  const auto [qBase, kBase, lenQ, lenK, offset] = seqSpan(cuQ, cuK, seq);
  const int rowsHere = int(min(int64_t(kRows), lenQ * g - r0));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const bool active = warp < rowsHere;
  const int64_t qi = (r0 + warp) / g, h = kvh * g + (r0 + warp) % g;
  const float lse = active ? a.lse[h * a.Tq + qBase + qi] : -INFINITY;
  const float rowDelta = active ? delta[h * a.Tq + qBase + qi] : 0.0f;
  loadQueryRows(a, qBase, r0, rowsHere, kvh, Qs, dOs);

  const int64_t lastQuery = (r0 + rowsHere - 1) / g;
  const int64_t kEnd = a.causal ? max(int64_t(0), min(lenK, lastQuery + offset + 1)) : lenK;
  const int64_t lastKey = a.causal ? qi + offset : lenK - 1;  // of this warp's row
  float acc[kDimsPerLane];
  for (int i = 0; i < kDimsPerLane; ++i) acc[i] = 0.0f;
  for (int64_t k0 = 0; k0 < kEnd; k0 += kKeys) {
    const int n = int(min(int64_t(kKeys), kEnd - k0));
    __syncthreads();  // the previous tile is consumed (and Qs, dOs are written before the first)
    loadKeyTile(a, kBase, k0, n, kvh, stride, Ks, Vs);
    __syncthreads();
    if (!active || lse == -INFINITY) continue;  // warp-uniform
    float ds = 0.0f;
    if (lane < n && k0 + lane <= lastKey)
      ds = probAndGrad(Qs + warp * D, dOs + warp * D, Ks + lane * stride, Vs + lane * stride, D, lse, rowDelta).ds;
    for (int j = 0; j < n; ++j) {
      const float dsj = __shfl_sync(kAllLanes, ds, j);
      const float* kr = Ks + j * stride;
      for (int i = 0; i < kDimsPerLane; ++i) {
        const int64_t d = lane + 32 * i;
        if (d < D) acc[i] += dsj * kr[d];
      }
    }
  }
  if (!active) return;
  float* dq = a.dq + ((qBase + qi) * a.Hq + h) * D;
  for (int i = 0; i < kDimsPerLane; ++i) {
    const int64_t d = lane + 32 * i;
    if (d < D) dq[d] = acc[i] * a.scale;
  }
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

void attentionBackward(const Context& ctx, const AttentionBackwardArgs& a) {
  if (a.D > kMaxHeadDim)
    throw std::invalid_argument("attentionBackward: head size " + std::to_string(a.D) + " is above the CUDA kernel's limit of " +
                                std::to_string(kMaxHeadDim));
  const cudaStream_t stream = streamOf(ctx);
  const int64_t g = a.Hq / a.Hkv;
  std::vector<int32_t> cuQ{0, int32_t(a.Tq)}, cuK{0, int32_t(a.Tk)};  // one sequence unless packed
  if (a.cuSeqlensQ) {
    cuQ.assign(a.cuSeqlensQ, a.cuSeqlensQ + a.numSeqs + 1);
    cuK.assign(a.cuSeqlensK, a.cuSeqlensK + a.numSeqs + 1);
  }
  std::vector<int64_t> rowItems, keyItems;  // (sequence, first flat row) / (sequence, first key) per block
  for (size_t s = 0; s + 1 < cuQ.size(); ++s) {
    for (int64_t r0 = 0; r0 < int64_t(cuQ[s + 1] - cuQ[s]) * g; r0 += kRows) rowItems.insert(rowItems.end(), {int64_t(s), r0});
    for (int64_t k0 = 0; k0 < int64_t(cuK[s + 1] - cuK[s]); k0 += kKeys) keyItems.insert(keyItems.end(), {int64_t(s), k0});
  }
  const int64_t rowBlocks = int64_t(rowItems.size()) / 2, keyBlocks = int64_t(keyItems.size()) / 2;
  HostPack pack;
  const size_t qAt = pack.add(cuQ.data(), cuQ.size()), kAt = pack.add(cuK.data(), cuK.size());
  const size_t rowsAt = pack.add(rowItems.data(), rowItems.size()), keysAt = pack.add(keyItems.data(), keyItems.size());
  DeviceBuffer dev(pack.size(), stream);
  pack.upload(dev, stream);
  const auto* dcuQ = reinterpret_cast<const int32_t*>(dev.data() + qAt);
  const auto* dcuK = reinterpret_cast<const int32_t*>(dev.data() + kAt);
  const auto* dRows = reinterpret_cast<const int64_t*>(dev.data() + rowsAt);
  const auto* dKeys = reinterpret_cast<const int64_t*>(dev.data() + keysAt);
  DeviceBuffer delta(size_t(a.Tq * a.Hq) * sizeof(float), stream);
  float* dDelta = reinterpret_cast<float*>(delta.data());
  if (a.Tq * a.Hq > 0) {
    attentionDeltaKernel<<<blocksFor(a.Tq * a.Hq, kAttnThreads / 32), kAttnThreads, 0, stream>>>(a, dDelta);
    checkLaunch("attentionBackward (delta)");
  }
  if (keyBlocks > 0) {
    const size_t smem = size_t(2 * kKeys * (a.D | 1) + 2 * kRows * a.D + 2 * kRows * kKeys) * sizeof(float);
    const dim3 grid(unsigned(keyBlocks), unsigned(a.Hkv));
    // Each thread owns ceil(kKeys·D / kAttnThreads) = ceil(D / 8) elements of dk and of dv.
    if (a.D <= 64) launchWithSmem(attentionDkDvKernel<8>, "attentionBackward (dk, dv)", grid, smem, stream, a, dcuQ, dcuK, dKeys, (const float*)dDelta);
    else if (a.D <= 128) launchWithSmem(attentionDkDvKernel<16>, "attentionBackward (dk, dv)", grid, smem, stream, a, dcuQ, dcuK, dKeys, (const float*)dDelta);
    else launchWithSmem(attentionDkDvKernel<32>, "attentionBackward (dk, dv)", grid, smem, stream, a, dcuQ, dcuK, dKeys, (const float*)dDelta);
  }
  if (rowBlocks > 0) {
    const size_t smem = size_t(2 * kKeys * (a.D | 1) + 2 * kRows * a.D) * sizeof(float);
    const dim3 grid(unsigned(rowBlocks), unsigned(a.Hkv));
    if (a.D <= 128) launchWithSmem(attentionDqKernel<4>, "attentionBackward (dq)", grid, smem, stream, a, dcuQ, dcuK, dRows, (const float*)dDelta);
    else launchWithSmem(attentionDqKernel<8>, "attentionBackward (dq)", grid, smem, stream, a, dcuQ, dcuK, dRows, (const float*)dDelta);
  }
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
