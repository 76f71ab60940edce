// CUDA versions of the optimiser ops (contracts in gmai/ops/optim.h): one block per chunk of the
// addon's chunk plan, the tensor list and the plan uploaded in one copy.
#include "common.cuh"

namespace gmai::cuda {

namespace {
constexpr int kThreads = 256;

// An optimiser op's tensor list and chunk plan on the device, uploaded in one copy.
class DevicePlan {
 public:
  template <typename Args>
  DevicePlan(const Args& a, cudaStream_t stream)
      : tensorsAt_(pack_.add(a.tensors, size_t(a.count))), chunksAt_(pack_.add(a.chunks, size_t(a.chunkCount))),
        dev_(pack_.size(), stream) {
    pack_.upload(dev_, stream);
  }
  template <typename T> const T* tensors() const { return reinterpret_cast<const T*>(dev_.data() + tensorsAt_); }
  const OptimChunk* chunks() const { return reinterpret_cast<const OptimChunk*>(dev_.data() + chunksAt_); }

 private:
  HostPack pack_;  // declared (so built) before the offsets and the device copy that use it
  size_t tensorsAt_, chunksAt_;
  DeviceBuffer dev_;
};

__global__ void adamwKernel(AdamwArgs a, const AdamwTensor* tensors, const OptimChunk* chunks) {
  const OptimChunk ch = chunks[blockIdx.x];
  const AdamwTensor t = tensors[ch.tensor];
  const float minusStepSize = -a.stepSize;
  // The CPU kernel's operations in its order: explicit fmaf where it fuses, __fmul_rn where a
  // product must be rounded on its own (nvcc would otherwise contract it into an FMA).
  for (int64_t i = ch.begin + threadIdx.x; i < ch.end; i += kThreads) {
    const float g = __fmul_rn(t.grad[i], a.gradScale);
    const float m = __fmaf_rn(g, a.oneMinusBeta1, __fmul_rn(a.beta1, t.expAvg[i]));
    const float v = __fmaf_rn(__fmul_rn(a.oneMinusBeta2, g), g, __fmul_rn(a.beta2, t.expAvgSq[i]));
    t.expAvg[i] = m;
    t.expAvgSq[i] = v;
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), a.biasCorrection2Sqrt), a.eps);
    const float p = __fadd_rn(__fmul_rn(t.param[i], t.decayFactor), __fdiv_rn(__fmul_rn(minusStepSize, m), denom));
    t.param[i] = p;
    if (t.modelWeight) {
      if (t.modelType == DType::BF16) static_cast<__nv_bfloat16*>(t.modelWeight)[i] = __float2bfloat16_rn(p);
      else static_cast<float*>(t.modelWeight)[i] = p;
    }
  }
}

// Sum of a double over the block (kThreads threads), deterministic for a fixed block size.
__device__ double blockSumF64(double v, double* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = v;
  __syncthreads();
  double total = 0.0;
  for (int w = 0; w < kThreads / 32; ++w) total += shared[w];
  return total;
}

__global__ void chunkSquaresKernel(const float* const* tensors, const OptimChunk* chunks, double* partial) {
  __shared__ double shared[kThreads / 32];
  const OptimChunk ch = chunks[blockIdx.x];
  const float* x = tensors[ch.tensor];
  double s = 0.0;
  for (int64_t i = ch.begin + threadIdx.x; i < ch.end; i += kThreads) { const double d = x[i]; s += d * d; }
  s = blockSumF64(s, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void sumPartialsKernel(const double* partial, int64_t n, double* out) {
  __shared__ double shared[kThreads / 32];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) s += partial[i];
  s = blockSumF64(s, shared);
  if (threadIdx.x == 0) *out = s;
}
}  // namespace

void adamw(const Context& ctx, const AdamwArgs& a) {
  const cudaStream_t stream = streamOf(ctx);
  const DevicePlan plan(a, stream);
  adamwKernel<<<unsigned(a.chunkCount), kThreads, 0, stream>>>(a, plan.tensors<AdamwTensor>(), plan.chunks());
  checkLaunch("adamw");
}

void sumOfSquares(const Context& ctx, const SumOfSquaresArgs& a) {
  const cudaStream_t stream = streamOf(ctx);
  const DevicePlan plan(a, stream);
  DeviceBuffer partial(size_t(a.chunkCount + 1) * sizeof(double), stream);
  double* parts = reinterpret_cast<double*>(partial.data());
  chunkSquaresKernel<<<unsigned(a.chunkCount), kThreads, 0, stream>>>(plan.tensors<const float*>(), plan.chunks(), parts);
  checkLaunch("sumOfSquares");
  sumPartialsKernel<<<1, kThreads, 0, stream>>>(parts, a.chunkCount, parts + a.chunkCount);
  checkLaunch("sumOfSquares");
  check(cudaMemcpyAsync(a.result, parts + a.chunkCount, sizeof(double), cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync");
  check(cudaStreamSynchronize(stream), "sumOfSquares");
}

}  // namespace gmai::cuda
