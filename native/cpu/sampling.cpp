// Next-token sampling on the CPU, one row per task (see gmai/ops/sampling.h for the order of
// processors). A row never depends on another row or on the thread that runs it, so a seed
// reproduces the same tokens whatever the batching or thread count.
//
// Cost per row over a vocabulary V: one pass for max/NaN checks, one pass of exp for the
// normaliser, then work on a candidate set only: top-k uses partial selection (nth_element),
// top-p sorts only the tokens above a logit threshold that is lowered until they hold the
// requested mass, min-p keeps tokens above a fixed threshold. No full sort of V entries unless
// the distribution is so flat that the candidates are the whole vocabulary.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "gmai/ops.h"
#include "philox.h"
#include "simd.h"

namespace gmai::cpu {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// exp(x) for x <= 0, Cephes-style range reduction + degree-6 polynomial (about 2 ulp), written
// without branches so the loops below vectorise. Underflows to exactly 0 below -87.3, so
// masked (-inf) tokens get weight 0.
inline float expNonPositive(float x) {
  float xc = x < -87.3f ? -87.3f : x;
  float n = std::floor(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r * r + r + 1.0f;
  int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x < -87.3f ? 0.0f : y * scale;
}

struct RowScan { float max; bool hasNan; bool hasPosInf; };

GMAI_MULTIVERSION RowScan scanRow(const float* x, int64_t n) {
  float m[8]; bool nan = false, inf = false;
  for (float& v : m) v = -kInf;
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) {
      float v = x[j + k];
      nan |= v != v; inf |= v == kInf;
      m[k] = v > m[k] ? v : m[k];
    }
  for (; j < n; ++j) { float v = x[j]; nan |= v != v; inf |= v == kInf; m[0] = v > m[0] ? v : m[0]; }
  float best = m[0];
  for (float v : m) best = v > best ? v : best;
  return {best, nan, inf};
}

// w[j] = exp((l[j] - lMax) * invT); returns the sum in double (float lanes per block of 512).
GMAI_MULTIVERSION double expWeights(const float* l, float lMax, float invT, float* w, int64_t n) {
  double total = 0.0;
  for (int64_t b = 0; b < n; b += 512) {
    int64_t e = std::min<int64_t>(n, b + 512);
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = b;
    for (; j + 8 <= e; j += 8)
      for (int k = 0; k < 8; ++k) { float v = expNonPositive((l[j + k] - lMax) * invT); w[j + k] = v; acc[k] += v; }
    for (; j < e; ++j) { float v = expNonPositive((l[j] - lMax) * invT); w[j] = v; acc[0] += v; }
    for (float a : acc) total += a;
  }
  return total;
}

int32_t argmaxLowestId(const float* l, int64_t n) {
  int64_t best = 0;
  for (int64_t j = 1; j < n; ++j) if (l[j] > l[best]) best = j;  // strict: ties keep the lower id
  return int32_t(best);
}

// Scratch reused across the rows one task handles.
struct Scratch {
  std::vector<float> logits;   // penalised copy of the row (only when a penalty applies)
  std::vector<float> weights;  // exp((l - lMax) / T)
  std::vector<float> select;   // values for nth_element
  std::vector<int32_t> pool;   // token ids that survive top-k
  std::vector<int32_t> cand;   // candidate ids for top-p / min-p, sorted by logit
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

void sampleRow(const SampleArgs& a, int64_t r, Scratch& s) {
  const int64_t V = a.vocab;
  const float* x = a.logits + r * V;
  RowScan scan = scanRow(x, V);
  if (scan.hasNan) { a.status[r] = int32_t(SampleStatus::NanLogit); return; }
  if (scan.hasPosInf) { a.status[r] = int32_t(SampleStatus::PosInfLogit); return; }
  if (scan.max == -kInf) { a.status[r] = int32_t(SampleStatus::AllMasked); return; }

  const float* l = applyPenalties(a, r, x, s);
  float lMax = l == x ? scan.max : scanRow(l, V).max;
  if (!(lMax > -kInf) || lMax == kInf) { a.status[r] = int32_t(SampleStatus::AllMasked); return; }

  s.weights.resize(V);
  float* w = s.weights.data();
  int32_t token;
  double logprob;
  float T = a.temperature[r];
  if (T == 0.0f) {
    token = argmaxLowestId(l, V);
    logprob = 0.0;
  } else {
    const float invT = 1.0f / T;
    const int64_t k = a.topK[r];
    const double topP = a.topP[r], minP = a.minP[r];
    const double u = philox::uniform(a.seed[r], a.stream[r], a.step[r]);

    // Top-k: the pool is every token whose logit reaches the k-th largest (ties kept).
    bool allTokens = !(k > 0 && k < V);
    double poolMass;
    if (allTokens) {
      poolMass = expWeights(l, lMax, invT, w, V);
    } else {
      s.select.assign(l, l + V);
      std::nth_element(s.select.begin(), s.select.begin() + (k - 1), s.select.end(), std::greater<float>());
      float kth = s.select[k - 1];
      s.pool.clear();
      poolMass = 0.0;
      for (int64_t j = 0; j < V; ++j)
        if (l[j] >= kth) { s.pool.push_back(int32_t(j)); w[j] = expNonPositive((l[j] - lMax) * invT); poolMass += w[j]; }
    }
    auto forEachPool = [&](auto&& fn) {
      if (allTokens) { for (int64_t j = 0; j < V; ++j) if (!fn(int32_t(j))) return; }
      else { for (int32_t j : s.pool) if (!fn(j)) return; }
    };

    if (topP >= 1.0 && minP <= 0.0) {
      // Nothing is cut after top-k: inverse CDF over the pool in id order, no sort.
      double target = u * poolMass, cum = 0.0;
      int32_t chosen = -1, lastPositive = -1;
      forEachPool([&](int32_t j) {
        if (w[j] > 0.0f) lastPositive = j;
        cum += w[j];
        if (cum > target && w[j] > 0.0f) { chosen = j; return false; }
        return true;
      });
      token = chosen >= 0 ? chosen : lastPositive;
      logprob = double((l[token] - lMax) * invT) - std::log(poolMass);
    } else {
      // Candidates, sorted by logit. With min-p they are exactly the tokens min-p keeps
      // (p >= minP * p_max, i.e. weight >= minP; the top token has weight 1), and top-p then
      // keeps a prefix of them: min-p's ratios to the top token do not change when top-p
      // renormalises, so the order top-p -> min-p is respected. Without min-p, candidates are
      // the tokens whose scaled logit is within `depth` of the top; the depth doubles until
      // they hold top-p's mass. Either way they are a prefix of the full descending order, so
      // the top-p prefix found among them is exact.
      const double needMass = topP * poolMass;
      double depth = 8.0;
      size_t keep = 0;
      double keptMass = 0.0;
      for (;;) {
        const bool everything = !std::isfinite(depth) || depth > 1e30;
        s.cand.clear();
        forEachPool([&](int32_t j) {
          bool in = minP > 0.0 ? double(w[j]) >= minP : everything || double((l[j] - lMax) * invT) >= -depth;
          if (in) s.cand.push_back(j);
          return true;
        });
        std::sort(s.cand.begin(), s.cand.end(), [l](int32_t p, int32_t q) { return l[p] > l[q] || (l[p] == l[q] && p < q); });
        // Top-p: keep a token while the mass before it is below topP * poolMass (at least one).
        double before = 0.0;
        keep = 0;
        for (int32_t j : s.cand) {
          if (keep > 0 && topP < 1.0 && before >= needMass) break;
          before += w[j];
          ++keep;
        }
        keptMass = before;
        bool prefixComplete = topP >= 1.0 ? true : before >= needMass || keep < s.cand.size();
        if (prefixComplete || minP > 0.0 || everything || s.cand.size() == (allTokens ? size_t(V) : s.pool.size())) break;
        depth *= 2.0;
        if (depth > 1024.0) depth = kInf;
      }
      double target = u * keptMass, cum = 0.0;
      token = s.cand[0];
      for (size_t i = 0; i < keep; ++i) {
        int32_t j = s.cand[i];
        if (w[j] > 0.0f) token = j;
        cum += w[j];
        if (cum > target && w[j] > 0.0f) break;
      }
      logprob = double((l[token] - lMax) * invT) - std::log(keptMass);
    }
  }

  // Raw policy log-prob: log_softmax of the unprocessed logits (temperature 1, no penalties).
  double rawSum = expWeights(x, scan.max, 1.0f, w, V);
  a.tokens[r] = token;
  a.logprobs[r] = float(logprob);
  a.rawLogprobs[r] = float(double(x[token] - scan.max) - std::log(rawSum));
  a.status[r] = int32_t(SampleStatus::Ok);
}

}  // namespace

void sample(const Context& ctx, const SampleArgs& a) {
  // One row is 0.1-1 ms at vocabulary 152k: split rows across threads, never a row itself.
  int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(a.vocab, 1));
  ctx.pool->parallelFor(a.rows, grain, [&](int64_t begin, int64_t end) {
    Scratch scratch;
    for (int64_t r = begin; r < end; ++r) sampleRow(a, r, scratch);
  });
}

}  // namespace gmai::cpu
