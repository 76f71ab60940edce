// CUDA versions of the elementwise ops, GELU, RMSNorm, softmax, conversion, embedding gather
// and row scatter, and the backward ops of SwiGLU, GELU, RMSNorm, softmax and embedding, plus
// column sums (contracts in native/include/gmai/ops/*.h). One thread per element, or one block
// per row. Reductions over rows (column sums, weight gradients, scatter-adds) use no atomics and
// add in a fixed order, so they are deterministic.
#include <algorithm>
#include <cfloat>
#include <vector>

#include "common.cuh"

namespace gmai::cuda {

namespace {
constexpr int kThreads = 256;

__global__ void binaryKernel(BinaryArgs a) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= a.n) return;
  float x = a.a[i], y = a.b[i % a.bCount];
  switch (a.op) {
    case BinaryOp::Add: a.out[i] = x + y; break;
    case BinaryOp::Mul: a.out[i] = x * y; break;
    case BinaryOp::Sub: a.out[i] = x - y; break;
    case BinaryOp::Div: a.out[i] = x / y; break;
  }
}

__global__ void scaleKernel(ScaleArgs a) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < a.n) a.out[i] = a.a[i] * a.scale + a.shift;
}

__global__ void swigluKernel(SwigluArgs a) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < a.n) { float g = a.gate[i]; a.out[i] = g / (1.0f + expf(-g)) * a.up[i]; }
}

__global__ void swigluBackwardKernel(SwigluBackwardArgs a) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= a.n) return;
  const float g = a.gate[i], s = 1.0f / (1.0f + expf(-g)), d = a.dy[i];
  a.dgate[i] = d * a.up[i] * s * (1.0f + g * (1.0f - s));
  a.dup[i] = d * g * s;
}

__global__ void geluBackwardKernel(GeluBackwardArgs a) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= a.n) return;
  const float x = a.x[i];
  const float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f)), pdf = 0.39894228040143268f * expf(-0.5f * x * x);
  a.dx[i] = a.dy[i] * (cdf + x * pdf);
}

// Column sums in two deterministic passes (no atomics): partial[c, j] = Σ x[r, j]·w(r) over the
// rows r of chunk c (w(r) = dy[r, j]·rowScale[r] when dy is given: the rmsnorm weight gradient),
// then out[j] (+)= Σ_c partial[c, j] in chunk order. Chunks make the first pass fill the GPU.
__global__ void columnPartialsKernel(const float* x, const float* dy, const float* rowScale, int64_t rows, int64_t cols,
                                     int64_t chunkRows, float* partial) {
  int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= cols) return;
  const int64_t r0 = int64_t(blockIdx.y) * chunkRows, r1 = r0 + chunkRows < rows ? r0 + chunkRows : rows;
  float s = 0.0f;
  for (int64_t r = r0; r < r1; ++r) s += dy ? dy[r * cols + j] * x[r * cols + j] * rowScale[r] : x[r * cols + j];
  partial[int64_t(blockIdx.y) * cols + j] = s;
}

__global__ void reducePartialsKernel(const float* partial, int64_t chunks, int64_t cols, float* out, bool accumulate) {
  int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= cols) return;
  float s = 0.0f;
  for (int64_t c = 0; c < chunks; ++c) s += partial[c * cols + j];
  out[j] = accumulate ? out[j] + s : s;
}

// dtable[ids[i], j] += dy[i, j] over i in order, one thread per column j.
__global__ void embeddingBackwardKernel(EmbeddingBackwardArgs a) {
  int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= a.dim) return;
  for (int64_t i = 0; i < a.count; ++i) {
    int32_t id = a.ids[i];
    if (id < 0 || id >= a.rows) continue;  // unreachable: the binding range-checks ids first
    a.dtable[int64_t(id) * a.dim + j] += a.dy[i * a.dim + j];
  }
}

__global__ void geluKernel(GeluArgs a) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < a.n) a.out[i] = 0.5f * a.x[i] * (1.0f + erff(a.x[i] * 0.70710678118654752f));
}

__global__ void convertKernel(ConvertArgs a) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= a.n) return;
  float v = a.srcType == DType::F64 ? float(static_cast<const double*>(a.src)[i]) : loadAsFloat(a.src, a.srcType, i);
  switch (a.dstType) {
    case DType::BF16: static_cast<__nv_bfloat16*>(a.dst)[i] = __float2bfloat16_rn(v); break;
    case DType::F16: static_cast<__half*>(a.dst)[i] = __float2half_rn(v); break;
    default: static_cast<float*>(a.dst)[i] = v; break;
  }
}

__global__ void embeddingKernel(EmbeddingArgs a) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= a.count * a.dim) return;
  int64_t row = i / a.dim, col = i % a.dim;
  int32_t id = a.ids[row];
  if (id < 0 || id >= a.rows) return;  // unreachable: the binding range-checks ids first
  a.out[i] = loadAsFloat(a.table, a.tableType, int64_t(id) * a.dim + col);
}

// moves[2i] <- moves[2i+1]: destination and source row of each copy, one thread per element.
__global__ void scatterRowsKernel(const int32_t* moves, int64_t count, int64_t dim, const float* src, float* dst) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count * dim) return;
  int64_t m = i / dim, col = i % dim;
  dst[int64_t(moves[2 * m]) * dim + col] = src[int64_t(moves[2 * m + 1]) * dim + col];
}

// Block-wide reductions over kThreads threads.
__device__ float blockSum(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = v;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < kThreads / 32; ++w) total += shared[w];
  __syncthreads();
  return total;
}
__device__ float blockMax(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
  if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = v;
  __syncthreads();
  float m = -INFINITY;
  for (int w = 0; w < kThreads / 32; ++w) m = fmaxf(m, shared[w]);
  __syncthreads();
  return m;
}

__global__ void rmsnormKernel(RmsNormArgs a) {
  __shared__ float shared[kThreads / 32];
  const float* x = a.x + int64_t(blockIdx.x) * a.dim;
  float* y = a.out + int64_t(blockIdx.x) * a.dim;
  float ss = 0.0f;
  for (int64_t j = threadIdx.x; j < a.dim; j += kThreads) ss += x[j] * x[j];
  float inv = rsqrtf(blockSum(ss, shared) / float(a.dim) + a.eps);
  if (a.invRms && threadIdx.x == 0) a.invRms[blockIdx.x] = inv;
  for (int64_t j = threadIdx.x; j < a.dim; j += kThreads)
    y[j] = x[j] * inv * (a.weight ? loadAsFloat(a.weight, a.weightType, j) : 1.0f);
}

// dx for one row per block: r·g − x·r³·(Σ g·x)/dim, g = dy ⊙ w.
__global__ void rmsnormBackwardKernel(RmsNormBackwardArgs a) {
  __shared__ float shared[kThreads / 32];
  const int64_t off = int64_t(blockIdx.x) * a.dim;
  const float r = a.invRms[blockIdx.x];
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < a.dim; j += kThreads)
    s += a.dy[off + j] * (a.weight ? loadAsFloat(a.weight, a.weightType, j) : 1.0f) * a.x[off + j];
  const float coef = r * r * r * blockSum(s, shared) / float(a.dim);
  for (int64_t j = threadIdx.x; j < a.dim; j += kThreads)
    a.dx[off + j] = r * a.dy[off + j] * (a.weight ? loadAsFloat(a.weight, a.weightType, j) : 1.0f) - a.x[off + j] * coef;
}

// dx = scale·y·(dy − Σ dy·y), one row per block.
__global__ void softmaxBackwardKernel(SoftmaxBackwardArgs a) {
  __shared__ float shared[kThreads / 32];
  const int64_t off = int64_t(blockIdx.x) * a.cols;
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < a.cols; j += kThreads) s += a.dy[off + j] * a.y[off + j];
  const float dot = blockSum(s, shared);
  for (int64_t j = threadIdx.x; j < a.cols; j += kThreads) a.dx[off + j] = a.scale * a.y[off + j] * (a.dy[off + j] - dot);
}

__global__ void softmaxKernel(SoftmaxArgs a) {
  __shared__ float shared[kThreads / 32];
  const float* x = a.x + int64_t(blockIdx.x) * a.cols;
  float* y = a.out + int64_t(blockIdx.x) * a.cols;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < a.cols; j += kThreads) m = fmaxf(m, x[j] * a.scale);
  m = blockMax(m, shared);
  if (m == -INFINITY) {  // fully masked row: zeros, as on the CPU
    for (int64_t j = threadIdx.x; j < a.cols; j += kThreads) y[j] = 0.0f;
    return;
  }
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < a.cols; j += kThreads) s += expf(x[j] * a.scale - m);
  float inv = 1.0f / blockSum(s, shared);
  for (int64_t j = threadIdx.x; j < a.cols; j += kThreads) y[j] = expf(x[j] * a.scale - m) * inv;
}
}  // namespace

void binary(const Context& ctx, const BinaryArgs& a) {
  binaryKernel<<<blocksFor(a.n, kThreads), kThreads, 0, streamOf(ctx)>>>(a);
  checkLaunch("binary");
}
void scale(const Context& ctx, const ScaleArgs& a) {
  scaleKernel<<<blocksFor(a.n, kThreads), kThreads, 0, streamOf(ctx)>>>(a);
  checkLaunch("scale");
}
void swiglu(const Context& ctx, const SwigluArgs& a) {
  swigluKernel<<<blocksFor(a.n, kThreads), kThreads, 0, streamOf(ctx)>>>(a);
  checkLaunch("swiglu");
}
void swigluBackward(const Context& ctx, const SwigluBackwardArgs& a) {
  swigluBackwardKernel<<<blocksFor(a.n, kThreads), kThreads, 0, streamOf(ctx)>>>(a);
  checkLaunch("swigluBackward");
}
void geluBackward(const Context& ctx, const GeluBackwardArgs& a) {
  geluBackwardKernel<<<blocksFor(a.n, kThreads), kThreads, 0, streamOf(ctx)>>>(a);
  checkLaunch("geluBackward");
}
// out (+)= Σ_rows of x (or of dy·x·rowScale): see columnPartialsKernel.
static void columnSums(const Context& ctx, const float* x, const float* dy, const float* rowScale, int64_t rows,
                       int64_t cols, float* out, bool accumulate, const char* op) {
  const cudaStream_t stream = streamOf(ctx);
  const int64_t chunkRows = std::max<int64_t>(64, (rows + 65534) / 65535);  // gridDim.y <= 65535
  const int64_t chunks = (rows + chunkRows - 1) / chunkRows;
  DeviceBuffer partial(size_t(std::max<int64_t>(chunks, 1) * cols) * sizeof(float), stream);
  float* p = reinterpret_cast<float*>(partial.data());
  if (chunks > 0) {
    const dim3 grid(blocksFor(cols, kThreads), unsigned(chunks));
    columnPartialsKernel<<<grid, kThreads, 0, stream>>>(x, dy, rowScale, rows, cols, chunkRows, p);
    checkLaunch(op);
  }
  reducePartialsKernel<<<blocksFor(cols, kThreads), kThreads, 0, stream>>>(p, chunks, cols, out, accumulate);
  checkLaunch(op);
}

void sumRows(const Context& ctx, const SumRowsArgs& a) {
  columnSums(ctx, a.x, nullptr, nullptr, a.rows, a.cols, a.out, a.accumulate, "sumRows");
}
void embeddingBackward(const Context& ctx, const EmbeddingBackwardArgs& a) {
  embeddingBackwardKernel<<<blocksFor(a.dim, kThreads), kThreads, 0, streamOf(ctx)>>>(a);
  checkLaunch("embeddingBackward");
}
void rmsnormBackward(const Context& ctx, const RmsNormBackwardArgs& a) {
  rmsnormBackwardKernel<<<unsigned(a.rows), kThreads, 0, streamOf(ctx)>>>(a);
  checkLaunch("rmsnormBackward");
  if (a.dweight) columnSums(ctx, a.x, a.dy, a.invRms, a.rows, a.dim, a.dweight, true, "rmsnormBackward (weight)");
}
void softmaxBackward(const Context& ctx, const SoftmaxBackwardArgs& a) {
  softmaxBackwardKernel<<<unsigned(a.rows), kThreads, 0, streamOf(ctx)>>>(a);
  checkLaunch("softmaxBackward");
}
void gelu(const Context& ctx, const GeluArgs& a) {
  geluKernel<<<blocksFor(a.n, kThreads), kThreads, 0, streamOf(ctx)>>>(a);
  checkLaunch("gelu");
}
void convert(const Context& ctx, const ConvertArgs& a) {
  convertKernel<<<blocksFor(a.n, kThreads), kThreads, 0, streamOf(ctx)>>>(a);
  checkLaunch("convert");
}
void embedding(const Context& ctx, const EmbeddingArgs& a) {
  embeddingKernel<<<blocksFor(a.count * a.dim, kThreads), kThreads, 0, streamOf(ctx)>>>(a);
  checkLaunch("embedding");
}
// idx is a host array (the binding's). Parallel element writes would mix rows where an index
// repeats, so repeats are resolved here first: the last occurrence wins, whole rows, as a
// sequential copy would do.
void scatterRows(const Context& ctx, const ScatterRowsArgs& a) {
  std::vector<std::pair<int32_t, int32_t>> order(size_t(a.count));  // (destination, source), sorted by destination
  for (int64_t i = 0; i < a.count; ++i) order[size_t(i)] = {a.idx[i], int32_t(i)};
  std::stable_sort(order.begin(), order.end(), [](const auto& p, const auto& q) { return p.first < q.first; });
  std::vector<int32_t> moves;
  for (size_t i = 0; i < order.size(); ++i)
    if (i + 1 == order.size() || order[i + 1].first != order[i].first) moves.insert(moves.end(), {order[i].first, order[i].second});
  const cudaStream_t stream = streamOf(ctx);
  const int64_t count = int64_t(moves.size()) / 2;
  HostPack pack;
  pack.add(moves.data(), moves.size());
  DeviceBuffer dev(pack.size(), stream);
  pack.upload(dev, stream);
  scatterRowsKernel<<<blocksFor(count * a.dim, kThreads), kThreads, 0, stream>>>(
      reinterpret_cast<const int32_t*>(dev.data()), count, a.dim, a.src, a.dst);
  checkLaunch("scatterRows");
}
void rmsnorm(const Context& ctx, const RmsNormArgs& a) {
  rmsnormKernel<<<unsigned(a.rows), kThreads, 0, streamOf(ctx)>>>(a);
  checkLaunch("rmsnorm");
}
void softmax(const Context& ctx, const SoftmaxArgs& a) {
  softmaxKernel<<<unsigned(a.rows), kThreads, 0, streamOf(ctx)>>>(a);
  checkLaunch("softmax");
}

}  // namespace gmai::cuda
