// Next-token sampling on the CPU, one row per task (see gmai/ops/sampling.h for the order of
// processors). A row never depends on another row or on the thread that runs it, so a seed
// reproduces the same tokens whatever the batching or thread count.
//
// Cost per row over a vocabulary V: a max/NaN scan, one exp pass for the normaliser, and no
// full sort. Top-k finds the k-th largest logit with a size-k heap (nth_element for large k).
// Top-p buckets the candidates by scaled logit (2048 buckets over the 88 units where exp is
// non-zero), adds bucket masses from the top until they reach p, and sorts only the boundary
// bucket. Min-p is a threshold on the weights.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <queue>
#include <vector>

#include "gmai/ops.h"
#include "philox.h"  // native/common
#include "vmath.h"

namespace gmai::cpu {

namespace {

using vmath::expNonPositive;
using vmath::expWeights;
using vmath::scanRow;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int kBuckets = 2048;
constexpr float kBucketScale = kBuckets / 88.0f;  // weights vanish below a scaled logit of -87.3
constexpr float kPrefixWeight = 1e-7f;             // first try for top-p: tokens at least this likely vs the top

// Scratch reused across the rows one task handles.
struct Scratch {
  std::vector<float> logits;     // penalised copy of the row (only when a penalty applies)
  std::vector<float> weights;    // exp((l - lMax) / T)
  std::vector<int32_t> pool;     // token ids that survive top-k
  std::vector<int32_t> kept;     // token ids the draw is made over
  std::vector<int32_t> boundary; // top-p boundary bucket, sorted
  std::vector<int32_t> prefix;   // tokens with weight >= kPrefixWeight
  std::vector<uint16_t> bucket;  // bucket of each token (top-p)
  std::vector<double> bucketMass;
  std::vector<float> heap;
};

// Applies repetition, frequency and presence penalties to a copy of the row; returns the row
// to use from here on (the input itself when no penalty applies).
const float* applyPenalties(const SampleArgs& a, int64_t r, const float* x, Scratch& s) {
  if (!a.historyOffsets) return x;
  int32_t begin = a.historyOffsets[r], end = a.historyOffsets[r + 1];
  float rep = a.repetitionPenalty[r], pres = a.presencePenalty[r], freq = a.frequencyPenalty[r];
  if (begin == end || (rep == 1.0f && pres == 0.0f && freq == 0.0f)) return x;
  s.logits.assign(x, x + a.vocab);
  float* l = s.logits.data();
  for (int32_t i = begin; i < end; ++i) {
    int32_t id = a.historyIds[i], count = a.historyCounts[i];
    float v = l[id];
    if (rep != 1.0f) v = v > 0.0f ? v / rep : v * rep;
    v -= float(count) * freq + (count > 0 ? pres : 0.0f);
    l[id] = v;
  }
  return l;
}

// Greedy: the lowest id holding the row's maximum (known from the scan).
int32_t firstIndexOf(const float* l, int64_t n, float value) {
  for (int64_t j = 0; j < n; ++j) if (l[j] == value) return int32_t(j);
  return 0;  // unreachable: value came from the row
}

// The k-th largest value of l[0..n) counting repeats (1 <= k < n).
float kthLargest(const float* l, int64_t n, int64_t k, Scratch& s) {
  if (k <= 1024) {  // min-heap of the k largest seen; most values fail the first comparison
    s.heap.assign(l, l + k);
    std::make_heap(s.heap.begin(), s.heap.end(), std::greater<float>());
    for (int64_t j = k; j < n; ++j) {
      if (l[j] > s.heap.front()) {
        std::pop_heap(s.heap.begin(), s.heap.end(), std::greater<float>());
        s.heap.back() = l[j];
        std::push_heap(s.heap.begin(), s.heap.end(), std::greater<float>());
      }
    }
    return s.heap.front();
  }
  s.heap.assign(l, l + n);
  std::nth_element(s.heap.begin(), s.heap.begin() + (k - 1), s.heap.end(), std::greater<float>());
  return s.heap[size_t(k - 1)];
}

// The tokens that survive top-k: every id (no top-k) or an explicit list. Visiting them
// through this keeps the no-top-k path free of a vocabulary-sized id array.
struct Pool {
  const std::vector<int32_t>* ids;  // nullptr: all of [0, vocab)
  int64_t vocab;
  template <typename Fn> void forEach(Fn&& fn) const {
    if (!ids) { for (int64_t j = 0; j < vocab; ++j) fn(int32_t(j)); }
    else { for (int32_t j : *ids) fn(j); }
  }
};

// Inverse CDF: the first visited id whose cumulative weight exceeds u * total. Zero-weight ids
// are never chosen.
template <typename Visit>
int32_t drawFrom(Visit&& visit, const float* w, double total, double u) {
  const double target = u * total;
  double cum = 0.0;
  int32_t chosen = -1, last = -1;
  visit([&](int32_t j) {
    if (chosen >= 0 || w[j] <= 0.0f) return;
    last = j;
    cum += w[j];
    if (cum > target) chosen = j;
  });
  return chosen >= 0 ? chosen : last;  // `last` only when rounding put u * total at the very end
}

template <typename Candidate>
double nucleus(const Pool& pool, const float* l, float lMax, float invT, const float* w, double need,
               Candidate&& candidate, Scratch& s);

// Fills s.kept with the tokens of the pool that top-p and min-p keep and returns their mass.
// Pool tokens are taken in id order; the top-p boundary bucket is appended in descending
// logit order (ids ascending among ties), as far as top-p keeps it.
double filterPool(const Pool& pool, const float* l, float lMax, float invT, const float* w, double poolMass,
                  double topP, double minP, Scratch& s) {
  s.kept.clear();
  auto candidate = [&](int32_t j) { return w[j] > 0.0f && (minP <= 0.0 || double(w[j]) >= minP); };
  if (topP >= 1.0) {
    double mass = 0.0;
    pool.forEach([&](int32_t j) { if (candidate(j)) { s.kept.push_back(j); mass += w[j]; } });
    return mass;
  }
  // The nucleus is a prefix of the descending order, so when the tokens with weight >= 1e-7
  // (a prefix too) already hold the mass top-p needs, it lies among them: on a trained LM's
  // peaked logits that is a few hundred tokens instead of the vocabulary.
  const double need = topP * poolMass;
  s.prefix.clear();
  double prefixMass = 0.0;
  pool.forEach([&](int32_t j) { if (w[j] >= kPrefixWeight && candidate(j)) { s.prefix.push_back(j); prefixMass += w[j]; } });
  const Pool& from = prefixMass >= need ? Pool{&s.prefix, pool.vocab} : pool;
  return nucleus(from, l, lMax, invT, w, need, candidate, s);
}

// Top-p over `pool` (plus min-p through `candidate`): appends the nucleus to s.kept (empty on
// entry) and returns its mass.
template <typename Candidate>
double nucleus(const Pool& pool, const float* l, float lMax, float invT, const float* w, double need,
               Candidate&& candidate, Scratch& s) {
  // Bucket b holds scaled logits in (-(b+1), -b] / kBucketScale: bucket order is descending
  // logit order, so the nucleus is whole buckets from the top plus part of one bucket.
  s.bucketMass.assign(kBuckets, 0.0);
  s.bucket.resize(s.weights.size());
  pool.forEach([&](int32_t j) {
    if (!candidate(j)) return;
    int b = std::min(kBuckets - 1, int(-((l[j] - lMax) * invT) * kBucketScale));
    s.bucket[size_t(j)] = uint16_t(b);
    s.bucketMass[size_t(b)] += w[j];
  });
  double before = 0.0;
  int cut = 0;
  while (cut < kBuckets && before + s.bucketMass[size_t(cut)] < need) before += s.bucketMass[size_t(cut++)];
  double mass = 0.0;
  s.boundary.clear();
  pool.forEach([&](int32_t j) {
    if (!candidate(j)) return;
    int b = s.bucket[size_t(j)];
    if (b < cut) { s.kept.push_back(j); mass += w[j]; }
    else if (b == cut) s.boundary.push_back(j);
  });
  std::sort(s.boundary.begin(), s.boundary.end(), [l](int32_t p, int32_t q) { return l[p] > l[q] || (l[p] == l[q] && p < q); });
  // Top-p keeps a token while the mass before it is below p (and always the first token).
  for (int32_t j : s.boundary) {
    if (!s.kept.empty() && before >= need) break;
    s.kept.push_back(j);
    before += w[j];
    mass += w[j];
  }
  return mass;
}

void sampleRow(const SampleArgs& a, int64_t r, Scratch& s) {
  const int64_t V = a.vocab;
  const float* x = a.logits + r * V;
  vmath::RowScan scan = scanRow(x, V);
  if (scan.hasNan) { a.status[r] = int32_t(SampleStatus::NanLogit); return; }
  if (scan.hasPosInf) { a.status[r] = int32_t(SampleStatus::PosInfLogit); return; }
  if (scan.max == -kInf) { a.status[r] = int32_t(SampleStatus::AllMasked); return; }

  const float* l = applyPenalties(a, r, x, s);
  const float lMax = l == x ? scan.max : scanRow(l, V).max;
  if (!(lMax > -kInf) || lMax == kInf) { a.status[r] = int32_t(SampleStatus::AllMasked); return; }

  s.weights.resize(size_t(V));
  float* w = s.weights.data();
  int32_t token;
  double logprob;
  const float T = a.temperature[r];
  if (T == 0.0f) {
    token = firstIndexOf(l, V, lMax);
    logprob = 0.0;
  } else {
    const float invT = 1.0f / T;
    const int64_t k = a.topK[r];
    // Top-k: the pool is every token whose logit reaches the k-th largest (ties kept, as HF).
    Pool pool{nullptr, V};
    double poolMass = 0.0;
    if (k > 0 && k < V) {
      const float kth = kthLargest(l, V, k, s);
      s.pool.clear();
      for (int64_t j = 0; j < V; ++j)
        if (l[j] >= kth) { s.pool.push_back(int32_t(j)); w[j] = expNonPositive((l[j] - lMax) * invT); poolMass += w[j]; }
      pool.ids = &s.pool;
    } else {
      poolMass = expWeights(l, lMax, invT, w, V);
    }
    const double topP = a.topP[r], minP = a.minP[r];
    const double u = philox::uniform(a.seed[r], a.stream[r], a.step[r]);
    double keptMass = poolMass;
    if (topP >= 1.0 && minP <= 0.0) {
      token = drawFrom([&](auto&& fn) { pool.forEach(fn); }, w, poolMass, u);  // nothing cut after top-k
    } else {
      keptMass = filterPool(pool, l, lMax, invT, w, poolMass, topP, minP, s);
      token = drawFrom([&](auto&& fn) { for (int32_t j : s.kept) fn(j); }, w, keptMass, u);
    }
    logprob = double((l[token] - lMax) * invT) - std::log(keptMass);
  }

  // Raw policy log-prob: log_softmax of the unprocessed logits (temperature 1, no penalties).
  const double rawSum = expWeights(x, scan.max, 1.0f, w, V);
  a.tokens[r] = token;
  a.logprobs[r] = float(logprob);
  a.rawLogprobs[r] = float(double(x[token] - scan.max) - std::log(rawSum));
  a.status[r] = int32_t(SampleStatus::Ok);
}

// Scratch kept per thread across calls: fresh vocabulary-sized buffers cost more in page
// faults than the sampling itself. Only used within one call, so it is never shared. Not
// inlined, so loops see a plain reference rather than re-deriving a thread-local address.
__attribute__((noinline)) Scratch& threadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

}  // namespace

void sample(const Context& ctx, const SampleArgs& a) {
  // One row is 0.1-1 ms at vocabulary 152k: split rows across threads, never a row itself.
  int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(a.vocab, 1));
  ctx.pool->parallelFor(a.rows, grain, [&](int64_t begin, int64_t end) {
    Scratch& scratch = threadScratch();
    for (int64_t r = begin; r < end; ++r) sampleRow(a, r, scratch);
  });
}

}  // namespace gmai::cpu
