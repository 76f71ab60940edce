// Elementwise CPU kernels: binary ops with row broadcast, scale, SwiGLU, softmax, dtype
// conversion, embedding gather, and the backward ops of SwiGLU, softmax, GELU and embedding,
// plus column sums. Plain loops; the compiler vectorises them per ISA clone.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "gmai/ops.h"
#include "simd.h"
#include "vmath.h"

namespace gmai::cpu {

namespace {
constexpr int64_t kGrain = 1 << 14;  // elements per task: below this, threading costs more

GMAI_MULTIVERSION void binaryRange(BinaryOp op, const float* a, const float* b, float* out,
                                   int64_t begin, int64_t end, int64_t bCount) {
  // Walk in runs that stay inside one period of b so the inner loop has no modulo.
  int64_t i = begin;
  while (i < end) {
    int64_t j = i % bCount, run = std::min(end - i, bCount - j);
    const float* bb = b + j; const float* aa = a + i; float* oo = out + i;
    switch (op) {
      case BinaryOp::Add: for (int64_t k = 0; k < run; ++k) oo[k] = aa[k] + bb[k]; break;
      case BinaryOp::Mul: for (int64_t k = 0; k < run; ++k) oo[k] = aa[k] * bb[k]; break;
      case BinaryOp::Sub: for (int64_t k = 0; k < run; ++k) oo[k] = aa[k] - bb[k]; break;
      case BinaryOp::Div: for (int64_t k = 0; k < run; ++k) oo[k] = aa[k] / bb[k]; break;
    }
    i += run;
  }
}

GMAI_MULTIVERSION void softmaxRow(const float* x, float* y, int64_t cols, float scale) {
  float m = -INFINITY;
  for (int64_t j = 0; j < cols; ++j) m = std::max(m, x[j] * scale);
  if (m == -INFINITY) {  // fully masked row: define the result as zeros, not NaN
    for (int64_t j = 0; j < cols; ++j) y[j] = 0.0f;
    return;
  }
  float sum = 0.0f;
  for (int64_t j = 0; j < cols; ++j) { y[j] = std::exp(x[j] * scale - m); sum += y[j]; }
  float inv = 1.0f / sum;
  for (int64_t j = 0; j < cols; ++j) y[j] *= inv;
}

// y·(dy − Σ dy·y)·scale for one row.
GMAI_MULTIVERSION void softmaxBackwardRow(const float* y, const float* dy, float* dx, int64_t cols, float scale) {
  const float dot = vmath::dot(dy, y, cols);
  for (int64_t j = 0; j < cols; ++j) dx[j] = scale * y[j] * (dy[j] - dot);
}

// dst[j] += src[j] for j < n.
GMAI_MULTIVERSION void addRow(const float* src, float* dst, int64_t n) {
  for (int64_t j = 0; j < n; ++j) dst[j] += src[j];
}

// Column slices for kernels that reduce over rows: threads split the columns and each column
// is summed over rows in order (deterministic, race-free, independent of the thread count).
constexpr int64_t kColumnBlock = 256;  // an accumulator slice that stays in L1
int64_t columnGrain(int64_t rows) { return std::max<int64_t>(16, kGrain / std::max<int64_t>(rows, 1)); }

GMAI_MULTIVERSION void convertRange(const void* src, DType st, void* dst, DType dt, int64_t begin, int64_t end) {
  if (st == dt) {
    size_t es = dtypeSize(st);
    std::memcpy(static_cast<char*>(dst) + begin * es, static_cast<const char*>(src) + begin * es, (end - begin) * es);
    return;
  }
  if (dt == DType::F32) {
    float* o = static_cast<float*>(dst);
    if (st == DType::BF16) { auto s = static_cast<const uint16_t*>(src); for (int64_t i = begin; i < end; ++i) o[i] = bf16ToF32(s[i]); }
    else if (st == DType::F16) { auto s = static_cast<const uint16_t*>(src); for (int64_t i = begin; i < end; ++i) o[i] = f16ToF32(s[i]); }
    else if (st == DType::F64) { auto s = static_cast<const double*>(src); for (int64_t i = begin; i < end; ++i) o[i] = float(s[i]); }
    return;
  }
  auto s = static_cast<const float*>(src);  // remaining cases: from float32
  auto o = static_cast<uint16_t*>(dst);
  if (dt == DType::BF16) for (int64_t i = begin; i < end; ++i) o[i] = f32ToBf16(s[i]);
  else if (dt == DType::F16) for (int64_t i = begin; i < end; ++i) o[i] = f32ToF16(s[i]);
}
}  // namespace

void binary(const Context& ctx, const BinaryArgs& a) {
  ctx.pool->parallelFor(a.n, kGrain, [&](int64_t b, int64_t e) { binaryRange(a.op, a.a, a.b, a.out, b, e, a.bCount); });
}

void scale(const Context& ctx, const ScaleArgs& a) {
  ctx.pool->parallelFor(a.n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) a.out[i] = a.a[i] * a.scale + a.shift;
  });
}

void swiglu(const Context& ctx, const SwigluArgs& a) {
  ctx.pool->parallelFor(a.n, kGrain / 4, [&](int64_t b, int64_t e) { vmath::siluMul(a.gate + b, a.up + b, a.out + b, e - b); });
}

void swigluBackward(const Context& ctx, const SwigluBackwardArgs& a) {
  ctx.pool->parallelFor(a.n, kGrain / 4, [&](int64_t b, int64_t e) {
    vmath::siluMulBackward(a.dy + b, a.gate + b, a.up + b, a.dgate + b, a.dup + b, e - b);
  });
}

void softmaxBackward(const Context& ctx, const SoftmaxBackwardArgs& a) {
  int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(a.cols, 1));
  ctx.pool->parallelFor(a.rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      softmaxBackwardRow(a.y + r * a.cols, a.dy + r * a.cols, a.dx + r * a.cols, a.cols, a.scale);
  });
}

void sumRows(const Context& ctx, const SumRowsArgs& a) {
  ctx.pool->parallelFor(a.cols, columnGrain(a.rows), [&](int64_t b, int64_t e) {
    for (int64_t j0 = b; j0 < e; j0 += kColumnBlock) {
      const int64_t width = std::min(kColumnBlock, e - j0);
      float acc[kColumnBlock] = {};
      for (int64_t r = 0; r < a.rows; ++r) addRow(a.x + r * a.cols + j0, acc, width);
      if (a.accumulate) addRow(acc, a.out + j0, width);
      else std::copy(acc, acc + width, a.out + j0);
    }
  });
}

void softmax(const Context& ctx, const SoftmaxArgs& a) {
  int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(a.cols, 1));
  ctx.pool->parallelFor(a.rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) softmaxRow(a.x + r * a.cols, a.out + r * a.cols, a.cols, a.scale);
  });
}

void convert(const Context& ctx, const ConvertArgs& a) {
  ctx.pool->parallelFor(a.n, kGrain, [&](int64_t b, int64_t e) { convertRange(a.src, a.srcType, a.dst, a.dstType, b, e); });
}

void gelu(const Context& ctx, const GeluArgs& a) {
  ctx.pool->parallelFor(a.n, kGrain / 4, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) a.out[i] = 0.5f * a.x[i] * (1.0f + std::erf(a.x[i] * 0.70710678118654752f));
  });
}

void geluBackward(const Context& ctx, const GeluBackwardArgs& a) {
  constexpr float kInvSqrt2 = 0.70710678118654752f, kInvSqrt2Pi = 0.39894228040143268f;
  ctx.pool->parallelFor(a.n, kGrain / 4, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float x = a.x[i];
      const float cdf = 0.5f * (1.0f + std::erf(x * kInvSqrt2)), pdf = kInvSqrt2Pi * std::exp(-0.5f * x * x);
      a.dx[i] = a.dy[i] * (cdf + x * pdf);
    }
  });
}

void embeddingBackward(const Context& ctx, const EmbeddingBackwardArgs& a) {
  ctx.pool->parallelFor(a.dim, columnGrain(a.count), [&](int64_t b, int64_t e) {
    for (int64_t i = 0; i < a.count; ++i) addRow(a.dy + i * a.dim + b, a.dtable + int64_t(a.ids[i]) * a.dim + b, e - b);
  });
}

void embedding(const Context& ctx, const EmbeddingArgs& a) {
  ctx.pool->parallelFor(a.count, std::max<int64_t>(1, kGrain / std::max<int64_t>(a.dim, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const char* row = static_cast<const char*>(a.table) + a.ids[i] * a.dim * int64_t(dtypeSize(a.tableType));
      convertRange(row, a.tableType, a.out + i * a.dim, DType::F32, 0, a.dim);
    }
  });
}

}  // namespace gmai::cpu
