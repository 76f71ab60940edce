// Flash-style attention on the CPU. One work item is (sequence, kv head, block of queries);
// its rows are every (query, query head) pair that shares that kv head, so with grouped-query
// attention K and V are read once for all g heads. Keys are visited in blocks with an online
// softmax: running max m, running sum l, accumulator rescaled when the max grows.
#include <algorithm>
#include <cmath>
#include <vector>

#include "gmai/ops.h"
#include "simd.h"

namespace gmai::cpu {

namespace {

constexpr int64_t kQueryBlock = 16;  // queries per work item (times g query heads = rows)
constexpr int64_t kKeyBlock = 64;    // keys per inner step

GMAI_MULTIVERSION float dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

GMAI_MULTIVERSION void scaleAddRow(float* acc, float corr, const float* v, float p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] = acc[i] * corr + p * v[i];
}

GMAI_MULTIVERSION void axpy(float* acc, const float* v, float p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] += p * v[i];
}

struct WorkItem { int64_t seq, q0, q1; };

struct Scratch {
  std::vector<float> acc, m, l, s;
};

void attendBlock(const AttentionArgs& a, const WorkItem& w, int64_t kvh, Scratch& sc) {
  const int64_t g = a.Hq / a.Hkv, D = a.D;
  const int64_t qBase = a.cuSeqlensQ ? a.cuSeqlensQ[w.seq] : 0;
  const int64_t kBase = a.cuSeqlensK ? a.cuSeqlensK[w.seq] : 0;
  const int64_t lenQ = a.cuSeqlensQ ? a.cuSeqlensQ[w.seq + 1] - qBase : a.Tq;
  const int64_t lenK = a.cuSeqlensK ? a.cuSeqlensK[w.seq + 1] - kBase : a.Tk;
  const int64_t offset = lenK - lenQ;  // causal: query i sees keys j <= i + offset
  const int64_t nq = w.q1 - w.q0, rows = nq * g;
  sc.acc.assign(size_t(rows * D), 0.0f);
  sc.m.assign(size_t(rows), -INFINITY);
  sc.l.assign(size_t(rows), 0.0f);
  sc.s.resize(size_t(rows * kKeyBlock));

  auto qRow = [&](int64_t r) {  // row r = (query qi, head hg within the group)
    int64_t qi = w.q0 + r / g, h = kvh * g + r % g;
    return a.q + ((qBase + qi) * a.Hq + h) * D;
  };
  int64_t kEnd = a.causal ? std::min(lenK, w.q1 - 1 + offset + 1) : lenK;
  for (int64_t k0 = 0; k0 < kEnd; k0 += kKeyBlock) {
    const int64_t k1 = std::min(kEnd, k0 + kKeyBlock);
    for (int64_t r = 0; r < rows; ++r) {
      const float* q = qRow(r);
      const int64_t qi = w.q0 + r / g;
      const int64_t visible = a.causal ? std::min(k1, qi + offset + 1) : k1;  // keys [k0, visible)
      float* s = &sc.s[size_t(r * kKeyBlock)];
      float blockMax = -INFINITY;
      for (int64_t j = k0; j < visible; ++j) {
        s[j - k0] = dot(q, a.k + ((kBase + j) * a.Hkv + kvh) * D, D) * a.scale;
        blockMax = std::max(blockMax, s[j - k0]);
      }
      if (visible <= k0) continue;  // this row sees none of these keys
      const float mNew = std::max(sc.m[size_t(r)], blockMax);
      const float corr = std::exp(sc.m[size_t(r)] - mNew);  // 0 when m was -inf
      float* acc = &sc.acc[size_t(r * D)];
      float sum = 0.0f;
      for (int64_t j = k0; j < visible; ++j) {
        const float p = std::exp(s[j - k0] - mNew);
        sum += p;
        const float* v = a.v + ((kBase + j) * a.Hkv + kvh) * D;
        if (j == k0) scaleAddRow(acc, corr, v, p, D);
        else axpy(acc, v, p, D);
      }
      sc.l[size_t(r)] = sc.l[size_t(r)] * corr + sum;
      sc.m[size_t(r)] = mNew;
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t qi = w.q0 + r / g, h = kvh * g + r % g;
    float* out = a.out + ((qBase + qi) * a.Hq + h) * D;
    const float l = sc.l[size_t(r)];
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;  // a row that saw no key: zeros
    for (int64_t d = 0; d < D; ++d) out[d] = sc.acc[size_t(r * D + d)] * inv;
    if (a.lse) a.lse[h * a.Tq + qBase + qi] = l > 0.0f ? sc.m[size_t(r)] + std::log(l) : -INFINITY;
  }
}

}  // namespace

void attention(const Context& ctx, const AttentionArgs& a) {
  std::vector<WorkItem> items;
  for (int64_t s = 0; s < a.numSeqs; ++s) {
    const int64_t lenQ = a.cuSeqlensQ ? a.cuSeqlensQ[s + 1] - a.cuSeqlensQ[s] : a.Tq;
    for (int64_t q0 = 0; q0 < lenQ; q0 += kQueryBlock) items.push_back({s, q0, std::min(lenQ, q0 + kQueryBlock)});
  }
  const int64_t n = int64_t(items.size()) * a.Hkv;
  ctx.pool->parallelFor(n, 1, [&](int64_t begin, int64_t end) {
    Scratch scratch;
    for (int64_t i = begin; i < end; ++i) attendBlock(a, items[size_t(i / a.Hkv)], i % a.Hkv, scratch);
  });
}

void rope(const Context& ctx, const RopeArgs& a) {
  const int64_t half = a.D / 2;
  ctx.pool->parallelFor(a.T, std::max<int64_t>(1, 4096 / std::max<int64_t>(a.H * a.D, 1)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* c = a.cos + t * half;
      const float* s = a.sin + t * half;
      for (int64_t h = 0; h < a.H; ++h) {
        const float* x = a.x + (t * a.H + h) * a.D;
        float* o = a.out + (t * a.H + h) * a.D;
        for (int64_t i = 0; i < half; ++i) {
          const float x1 = x[i], x2 = x[i + half];  // read both before writing (out may be x)
          o[i] = x1 * c[i] - x2 * s[i];
          o[i + half] = x2 * c[i] + x1 * s[i];
        }
      }
    }
  });
}

void scatterRows(const Context& ctx, const ScatterRowsArgs& a) {
  ctx.pool->parallelFor(a.count, std::max<int64_t>(1, 16384 / std::max<int64_t>(a.dim, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      std::copy(a.src + i * a.dim, a.src + (i + 1) * a.dim, a.dst + int64_t(a.idx[i]) * a.dim);
  });
}

}  // namespace gmai::cpu
