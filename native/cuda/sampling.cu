// CUDA sampling with the CPU's contract (gmai/ops/sampling.h, docs/sampling.md): one thread
// block per row, the same processors in the same order, and the same kept-set order for the
// inverse CDF (ids ascending, the top-p boundary bucket last in descending logit order), so
// that one Philox uniform picks the same token on both backends. Nothing sorts the
// vocabulary: top-k's k-th largest logit and the top-p boundary token are found by radix
// selection over the logit bits (three histogram passes), the top-p cut by the CPU's
// 2048-bucket histogram of the scaled logits.
//
// How close to the CPU: the weights exp((l - max) / T) use vmath's own exp formulas and the
// unfiltered normaliser is summed in the order of vmath's AVX2 pass, so both are bitwise the
// CPU's (on AVX2/AVX-512 hosts; GMAI_CPU_ISA=portable rounds differently). The other sums —
// top-k pool mass, kept mass, the running sum of the draw — are float64 in another order than
// the CPU's sequential float64, and bucket and boundary masses are 64-bit fixed point; they
// differ from the CPU by ~1e-14 relative, so a token differs only when u·mass falls that
// close to a token boundary (or the top-p mass that close to a bucket edge). The parity test
// checks agreement on most rows and the distribution, not every row.
//
// Memory: logits and the three outputs are device pointers; the per-row parameters, the
// penalty history and `status` are host memory (as the binding builds them). The parameters
// go to the device in one packed copy and `status` comes back before this returns.
#include <climits>
#include <vector>

#include "exp_poly.h"
#include "philox.h"
#include "common.cuh"

namespace gmai::cuda {

namespace {

constexpr int kThreads = 512, kWarps = kThreads / 32;
constexpr unsigned kAllLanes = 0xffffffffu;
constexpr int kBuckets = 2048;                     // as native/cpu/sampling.cpp
constexpr float kBucketScale = kBuckets / 88.0f;
constexpr int kHistBins = 2048;                    // widest radix digit (11 bits), = kBuckets
static_assert(kHistBins % kThreads == 0, "each thread owns whole histogram bins");

// ---- vmath's exp, bit for bit ----------------------------------------------------------------
// The intrinsics (__fmul_rn, __fadd_rn, __fmaf_rn) keep nvcc from contracting or reassociating,
// so each function rounds exactly like its CPU counterpart in native/cpu/vmath.cpp.
using namespace expPoly;
constexpr float kExpFloor = kFloor;

// vmath::expNonPositive (scalar, no FMA): the top-k pool's weights and the tail of a row.
__device__ __forceinline__ float expScalar(float x) {
  const float xc = x < kExpFloor ? kExpFloor : x;
  const float n = floorf(__fadd_rn(__fmul_rn(xc, kLog2e), 0.5f));
  const float r = __fsub_rn(__fsub_rn(xc, __fmul_rn(n, kLn2Hi)), __fmul_rn(n, kLn2Lo));
  float p = kP0;
  p = __fadd_rn(__fmul_rn(p, r), kP1); p = __fadd_rn(__fmul_rn(p, r), kP2); p = __fadd_rn(__fmul_rn(p, r), kP3);
  p = __fadd_rn(__fmul_rn(p, r), kP4); p = __fadd_rn(__fmul_rn(p, r), kP5);
  const float y = __fadd_rn(__fadd_rn(__fmul_rn(__fmul_rn(p, r), r), r), 1.0f);
  return x < kExpFloor ? 0.0f : __fmul_rn(y, __int_as_float((int(n) + 127) << 23));
}

// vmath's exp256 (one AVX2 lane, FMA): the weights of the first vocab & ~7 ids of a row.
__device__ __forceinline__ float expVector(float x) {
  const float xc = x > kExpFloor ? x : kExpFloor;  // _mm256_max_ps(x, floor)
  const float n = floorf(__fmaf_rn(xc, kLog2e, 0.5f));
  float r = __fmaf_rn(-n, kLn2Hi, xc);
  r = __fmaf_rn(-n, kLn2Lo, r);
  float p = kP0;
  p = __fmaf_rn(p, r, kP1); p = __fmaf_rn(p, r, kP2); p = __fmaf_rn(p, r, kP3);
  p = __fmaf_rn(p, r, kP4); p = __fmaf_rn(p, r, kP5);
  const float y = __fmaf_rn(p, __fmul_rn(r, r), __fadd_rn(r, 1.0f));
  return x < kExpFloor ? 0.0f : __fmul_rn(y, __int_as_float((int(n) + 127) << 23));
}

// ---- block-wide collectives (every thread of the block calls them, with the same arguments) ---

struct Sum { template <typename T> __device__ T operator()(T a, T b) const { return a + b; } };
struct Min { template <typename T> __device__ T operator()(T a, T b) const { return b < a ? b : a; } };
struct Max { template <typename T> __device__ T operator()(T a, T b) const { return b > a ? b : a; } };
struct Or { __device__ int operator()(int a, int b) const { return a | b; } };

// Reduction in a fixed order (so results are deterministic); every thread gets the result.
template <typename T, typename Op>
__device__ T blockReduce(T v, Op op) {
  __shared__ T partial[kWarps];
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(kAllLanes, v, o));
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = v;
  __syncthreads();
  T r = partial[0];
  for (int w = 1; w < kWarps; ++w) r = op(r, partial[w]);
  __syncthreads();
  return r;
}

// Exclusive prefix sum over the threads (in thread order) and the block total.
template <typename T>
__device__ void blockScan(T v, T& exclusive, T& total) {
  __shared__ T warpTotal[kWarps];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  T inclusive = v;
  for (int o = 1; o < 32; o <<= 1) {
    const T y = __shfl_up_sync(kAllLanes, inclusive, o);
    if (lane >= o) inclusive += y;
  }
  T before = __shfl_up_sync(kAllLanes, inclusive, 1);
  if (lane == 0) before = T(0);
  if (lane == 31) warpTotal[warp] = inclusive;
  __syncthreads();
  T offset = T(0), all = T(0);
  for (int w = 0; w < kWarps; ++w) {
    if (w < warp) offset += warpTotal[w];
    all += warpTotal[w];
  }
  __syncthreads();
  exclusive = offset + before;
  total = all;
}

template <typename T>
__device__ __forceinline__ bool reaches(T sum, T target, bool strict) { return strict ? sum > target : sum >= target; }

// Σ weight(j) over j < n, float64.
template <typename Weight>
__device__ double blockSum(int64_t n, Weight weight) {
  double s = 0.0;
  for (int64_t j = threadIdx.x; j < n; j += kThreads) s += double(weight(j));
  return blockReduce(s, Sum());
}

// The largest id of positive weight, -1 if none.
template <typename Weight>
__device__ int64_t lastPositive(int64_t n, Weight weight) {
  long long best = -1;
  for (int64_t j = threadIdx.x; j < n; j += kThreads)
    if (weight(j) > 0) best = j;
  return blockReduce(best, Max());
}

// The first id j (ascending) of positive weight at which the running sum of weight reaches
// `target` (strict: exceeds it); -1 when the total does not. Each thread sums a contiguous
// chunk of ids, a scan places the chunks, and the first thread whose chunk holds the crossing
// walks it again from 0, in the order of its sum, so the walk ends exactly at that sum.
template <typename T, typename Weight>
__device__ int64_t idCrossing(int64_t n, Weight weight, T target, bool strict) {
  __shared__ long long found;
  const int64_t chunk = (n + kThreads - 1) / kThreads;
  const int64_t begin = min(n, int64_t(threadIdx.x) * chunk), end = min(n, begin + chunk);
  T sum = T(0);
  for (int64_t j = begin; j < end; ++j) sum += weight(j);
  T before, total;
  blockScan(sum, before, total);
  const T need = target - before;
  const bool mine = sum > T(0) && reaches(sum, need, strict);
  const int first = blockReduce(mine ? int(threadIdx.x) : kThreads, Min());
  if (first == kThreads) return -1;
  if (int(threadIdx.x) == first) {
    T running = T(0);
    long long pick = -1;
    for (int64_t j = begin; j < end && pick < 0; ++j) {
      const T w = weight(j);
      running += w;
      if (w > T(0) && reaches(running, need, strict)) pick = j;
    }
    found = pick;
  }
  __syncthreads();
  const int64_t r = found;
  __syncthreads();
  return r;
}

// Bins [0, nBins) in order: the first nonempty bin at which the running mass reaches
// `target` (strict: exceeds it), and the mass of the bins before it. When none does, or when
// `last` is already set, the last nonempty bin, with `last` set. -1 if every bin is empty.
template <typename T, typename Mass>
__device__ int pickBin(int nBins, Mass mass, T target, bool strict, bool& last, T& massBefore) {
  __shared__ T ownerBefore;
  const int per = nBins / kThreads, b0 = int(threadIdx.x) * per;
  T sum = T(0);
  for (int i = 0; i < per; ++i) sum += mass(b0 + i);
  T before, total;
  blockScan(sum, before, total);
  int pick = INT_MAX;
  T pickBefore = T(0);
  if (!last) {
    const T need = target - before;
    T running = T(0);
    for (int i = 0; i < per && pick == INT_MAX; ++i) {
      const T m = mass(b0 + i);
      if (m > T(0) && reaches(running + m, need, strict)) { pick = b0 + i; pickBefore = before + running; }
      running += m;
    }
  }
  int bin = last ? INT_MAX : blockReduce(pick, Min());
  if (bin == INT_MAX) {
    last = true;
    int mine = -1;
    for (int i = 0; i < per; ++i)
      if (mass(b0 + i) > T(0)) mine = b0 + i;
    bin = blockReduce(mine, Max());
    massBefore = T(0);
    return bin;
  }
  if (pick == bin) ownerBefore = pickBefore;
  __syncthreads();
  massBefore = ownerBefore;
  __syncthreads();
  return bin;
}

// Logits as 32-bit keys that ascend as the logit descends (-0 and +0 are one key).
__device__ __forceinline__ uint32_t descendingKey(float f) {
  const uint32_t u = __float_as_uint(f == 0.0f ? 0.0f : f);
  return ~((u & 0x80000000u) ? ~u : (u | 0x80000000u));
}
__device__ __forceinline__ float keyLogit(uint32_t key) {
  const uint32_t a = ~key;
  return __uint_as_float((a & 0x80000000u) ? (a & 0x7fffffffu) : ~a);
}

struct KeyCrossing {
  uint32_t key;    // the key (logit) where the running weight reaches the target
  long long rest;  // the part of the target left for the tokens of that key (ids ascending)
  bool last;       // the target was beyond the total: `key` is the last key
};

// Radix selection: among ids with in(j), visited in descending logit order, the key at which
// the running integer weight q(j) reaches `target` (strict: exceeds it). Three passes of 11,
// 11 and 10 bits, each a histogram of the next digit among the ids that match the digits
// chosen so far.
template <typename In, typename Q>
__device__ KeyCrossing keyCrossing(const float* l, int64_t n, In in, Q q, long long target, bool strict,
                                   unsigned long long* hist) {
  uint32_t prefix = 0, mask = 0;
  bool last = false;
  for (int pass = 0; pass < 3; ++pass) {
    const int shift = pass == 0 ? 21 : pass == 1 ? 10 : 0, bins = pass == 2 ? 1024 : 2048;
    for (int b = threadIdx.x; b < kHistBins; b += kThreads) hist[b] = 0;
    __syncthreads();
    for (int64_t j = threadIdx.x; j < n; j += kThreads) {
      if (!in(j)) continue;
      const uint32_t key = descendingKey(l[j]);
      if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & uint32_t(bins - 1)], (unsigned long long)q(j));
    }
    __syncthreads();
    long long before = 0;
    const int bin = pickBin<long long>(bins, [&](int b) { return (long long)hist[b]; }, target, strict, last, before);
    prefix |= uint32_t(bin < 0 ? 0 : bin) << shift;  // bin < 0 only for an empty set, which callers never ask about
    mask |= uint32_t(bins - 1) << shift;
    target -= before;
  }
  return {prefix, target, last};
}

// Σ exp((l - lMax)·invT) in exactly the order of vmath's AVX2 expWeights: per 512-id block,
// 8 float lanes (lane i adds ids i, i+8, …), the lanes added in order, the blocks added in
// float64; the last vocab % 8 ids in float with the scalar exp. Bitwise the CPU's normaliser.
__device__ double cpuOrderExpSum(const float* l, int64_t n, float lMax, float invT) {
  constexpr int kBlock = 512, kLanes = 8, kBlocksPerRound = kThreads / kLanes;
  __shared__ float lanes[kThreads];
  __shared__ double total;
  const int64_t n8 = n & ~int64_t(7), blocks = (n8 + kBlock - 1) / kBlock;
  if (threadIdx.x == 0) total = 0.0;
  for (int64_t b0 = 0; b0 < blocks; b0 += kBlocksPerRound) {
    const int64_t b = b0 + threadIdx.x / kLanes, end = min(n8, (b + 1) * kBlock);
    float acc = 0.0f;
    if (b < blocks)
      for (int64_t j = b * kBlock + threadIdx.x % kLanes; j < end; j += kLanes)
        acc = __fadd_rn(acc, expVector((l[j] - lMax) * invT));
    lanes[threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.x == 0)
      for (int i = 0; i < kBlocksPerRound && b0 + i < blocks; ++i) {
        float s = 0.0f;
        for (int k = 0; k < kLanes; ++k) s = __fadd_rn(s, lanes[i * kLanes + k]);
        total += double(s);
      }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    float acc = 0.0f;
    for (int64_t j = n8; j < n; ++j) acc = __fadd_rn(acc, expScalar((l[j] - lMax) * invT));
    total += double(acc);
  }
  __syncthreads();
  const double r = total;
  __syncthreads();
  return r;
}

// Top-p and boundary masses are 64-bit fixed point (integer sums are exact and so do not
// depend on the order of atomics). Bucket b holds weights <= e^(-b / kBucketScale) (1 + 1e-5)
// <= 2^-e(b) (1 + 1e-5), so w · 2^(fixedBits + e(b)) stays below 2^fixedBits (1 + 1e-5) and a
// whole row below 2^63 (the host picks fixedBits = 62 - bits of the vocabulary size).
__device__ __forceinline__ int bucketExponent(int b) { return int(double(b) / (double(kBucketScale) * 0.69314718055994531)); }
constexpr double kMaxFixed = 4.0e18;  // < 2^62: clamp for targets that rounding pushed past the total

// One row's processed logits and the CPU's weight of each id.
struct Row {
  const float* l;
  int64_t n, n8;  // vocabulary, and the ids the CPU's AVX2 pass covers (n & ~7)
  float lMax, invT;
  bool topK;      // weights only for l >= kth, scalar exp (the CPU's top-k pool)
  float kth;
  __device__ float scaled(int64_t j) const { return (l[j] - lMax) * invT; }
  __device__ float weight(int64_t j) const {
    if (topK) return l[j] >= kth ? expScalar(scaled(j)) : 0.0f;
    return j < n8 ? expVector(scaled(j)) : expScalar(scaled(j));
  }
  __device__ int bucket(int64_t j) const { return min(kBuckets - 1, int(-scaled(j) * kBucketScale)); }
};

struct RowParams {
  uint64_t seed, stream, step;
  float temperature, topP, minP, repetition, presence, frequency;
  int32_t topK, historyBegin, historyEnd;
  int32_t scratchRow;  // row of the penalised-logits scratch, -1 when no penalty applies
};

struct RowsArgs {
  int64_t vocab = 0;
  const float* logits = nullptr;
  const RowParams* params = nullptr;
  const int32_t* historyIds = nullptr;
  const int32_t* historyCounts = nullptr;
  float* scratch = nullptr;
  int32_t* tokens = nullptr;
  float* logprobs = nullptr;
  float* rawLogprobs = nullptr;
  int32_t* status = nullptr;
  int fixedBits = 0;
};

// The lowest id holding `value` (greedy's argmax).
__device__ int64_t firstIndexOf(const float* l, int64_t n, float value) {
  long long best = LLONG_MAX;
  for (int64_t j = threadIdx.x; j < n; j += kThreads)
    if (l[j] == value) { best = j; break; }
  return blockReduce(best, Min());
}

__global__ void __launch_bounds__(kThreads) sampleRows(RowsArgs a) {
  __shared__ unsigned long long hist[kHistBins];
  const int64_t r = blockIdx.x, V = a.vocab;
  const RowParams p = a.params[r];
  const float* x = a.logits + r * V;
  const auto fail = [&](SampleStatus s) { if (threadIdx.x == 0) a.status[r] = int32_t(s); };

  // The raw row: NaN, +inf, max.
  float m = -INFINITY;
  int bad = 0;  // 1: NaN, 2: +inf
  for (int64_t j = threadIdx.x; j < V; j += kThreads) {
    const float v = x[j];
    if (v != v) bad |= 1;
    else { bad |= v == INFINITY ? 2 : 0; m = fmaxf(m, v); }
  }
  const float rawMax = blockReduce(m, Max());
  bad = blockReduce(bad, Or());
  if (bad & 1) return fail(SampleStatus::NanLogit);
  if (bad & 2) return fail(SampleStatus::PosInfLogit);
  if (rawMax == -INFINITY) return fail(SampleStatus::AllMasked);

  // 1-2. Penalties, on a copy of the row. History ids of a row are distinct (the contract),
  // so the entries are applied in parallel. Same float operations as the CPU, no FMA.
  const float* l = x;
  float lMax = rawMax;
  if (p.scratchRow >= 0) {
    float* y = a.scratch + int64_t(p.scratchRow) * V;
    for (int64_t j = threadIdx.x; j < V; j += kThreads) y[j] = x[j];
    __syncthreads();
    for (int64_t i = p.historyBegin + int64_t(threadIdx.x); i < p.historyEnd; i += kThreads) {
      const int32_t id = a.historyIds[i], count = a.historyCounts[i];
      float v = y[id];
      if (p.repetition != 1.0f) v = v > 0.0f ? v / p.repetition : __fmul_rn(v, p.repetition);
      y[id] = __fsub_rn(v, __fadd_rn(__fmul_rn(float(count), p.frequency), count > 0 ? p.presence : 0.0f));
    }
    __syncthreads();
    l = y;
    float mm = -INFINITY;
    for (int64_t j = threadIdx.x; j < V; j += kThreads) mm = fmaxf(mm, y[j]);
    lMax = blockReduce(mm, Max());
    if (!(lMax > -INFINITY) || lMax == INFINITY) return fail(SampleStatus::AllMasked);
  }

  int64_t token = -1;
  double logprob = 0.0;
  if (p.temperature == 0.0f) {
    token = firstIndexOf(l, V, lMax);  // 3. greedy: filters do not matter, no draw
  } else {
    Row row{l, V, V & ~int64_t(7), lMax, 1.0f / p.temperature, false, 0.0f};
    // 4. Top-k: the pool is every id whose logit reaches the k-th largest (ties kept).
    if (p.topK > 0 && p.topK < V) {
      const KeyCrossing kth = keyCrossing(l, V, [&](int64_t j) { return l[j] == l[j]; }, [](int64_t) { return 1LL; },
                                          (long long)p.topK, false, hist);
      row.kth = keyLogit(kth.key);
      row.topK = true;
    }
    const auto weight = [&](int64_t j) { return row.weight(j); };
    const double poolMass = row.topK ? blockSum(V, weight) : cpuOrderExpSum(l, V, lMax, row.invT);
    const double u = philox::uniform(p.seed, p.stream, p.step);
    const double topP = p.topP, minP = p.minP;
    double keptMass = poolMass;
    if (topP >= 1.0 && minP <= 0.0) {
      token = idCrossing<double>(V, [&](int64_t j) { return double(weight(j)); }, u * poolMass, true);
      if (token < 0) token = lastPositive(V, weight);  // u·mass rounded up to the total
    } else {
      // 6. Min-p is a threshold on the weights (the top weight is 1).
      const auto cand = [&](int64_t j) {
        const float w = row.weight(j);
        return w > 0.0f && (minP <= 0.0 || double(w) >= minP) ? w : 0.0f;
      };
      // 5. Top-p: the first bucket at which the candidates' mass, from the top, reaches p.
      const double need = topP * poolMass;
      int cut = kBuckets;
      if (topP < 1.0) {
        for (int b = threadIdx.x; b < kHistBins; b += kThreads) hist[b] = 0;
        __syncthreads();
        for (int64_t j = threadIdx.x; j < V; j += kThreads) {
          const float w = cand(j);
          if (w > 0.0f) {
            const int b = row.bucket(j);
            atomicAdd(&hist[b], (unsigned long long)__double2ll_rn(ldexp(double(w), a.fixedBits + bucketExponent(b))));
          }
        }
        __syncthreads();
        bool none = false;
        double ignored;
        const auto bucketMass = [&](int b) { return ldexp(double(hist[b]), -(a.fixedBits + bucketExponent(b))); };
        cut = pickBin<double>(kBuckets, bucketMass, need, false, none, ignored);
        if (none) cut = kBuckets;  // the candidates hold less than p: all are kept
      }
      if (cut == kBuckets) {
        keptMass = blockSum(V, cand);
        token = idCrossing<double>(V, [&](int64_t j) { return double(cand(j)); }, u * keptMass, true);
        if (token < 0) token = lastPositive(V, cand);
      } else {
        // Kept: every candidate above the cut bucket (ids ascending), then the cut bucket's
        // candidates in descending logit order (ids ascending among ties) through the one at
        // which the mass reaches p.
        const int scaleExp = a.fixedBits + bucketExponent(cut);
        const auto above = [&](int64_t j) { return row.bucket(j) < cut ? cand(j) : 0.0f; };
        const auto inCut = [&](int64_t j) { return cand(j) > 0.0f && row.bucket(j) == cut; };
        const auto fixedWeight = [&](int64_t j) { return __double2ll_rn(ldexp(double(cand(j)), scaleExp)); };
        const double aboveMass = blockSum(V, above);
        const long long rest = __double2ll_rn(fmin(ldexp(fmax(need - aboveMass, 0.0), scaleExp), kMaxFixed));
        const KeyCrossing edge = keyCrossing(l, V, inCut, fixedWeight, rest, false, hist);
        const auto edgeTies = [&](int64_t j) { return inCut(j) && descendingKey(l[j]) == edge.key ? fixedWeight(j) : 0LL; };
        int64_t edgeId = edge.last ? -1 : idCrossing<long long>(V, edgeTies, edge.rest, false);
        if (edgeId < 0) edgeId = lastPositive(V, edgeTies);
        const auto keptInCut = [&](int64_t j) {
          if (!inCut(j)) return false;
          const uint32_t key = descendingKey(l[j]);
          return key < edge.key || (key == edge.key && j <= edgeId);
        };
        keptMass = aboveMass + blockSum(V, [&](int64_t j) { return keptInCut(j) ? cand(j) : 0.0f; });
        // The draw: inverse CDF over the kept tokens in that order.
        const double target = u * keptMass;
        if (target < aboveMass) token = idCrossing<double>(V, [&](int64_t j) { return double(above(j)); }, target, true);
        if (token < 0) {
          const long long t = __double2ll_rn(fmin(ldexp(fmax(target - aboveMass, 0.0), scaleExp), kMaxFixed));
          const KeyCrossing hit = keyCrossing(l, V, keptInCut, fixedWeight, t, true, hist);
          const auto hitTies = [&](int64_t j) { return keptInCut(j) && descendingKey(l[j]) == hit.key ? fixedWeight(j) : 0LL; };
          token = hit.last ? -1 : idCrossing<long long>(V, hitTies, hit.rest, true);
          if (token < 0) token = lastPositive(V, hitTies);
        }
      }
    }
    if (token < 0) token = firstIndexOf(l, V, lMax);  // unreachable: the top token always has weight 1
    logprob = double((l[token] - lMax) * row.invT) - log(keptMass);
  }

  // Raw policy log-prob: log_softmax of the logits as given.
  const double rawSum = cpuOrderExpSum(x, V, rawMax, 1.0f);
  if (threadIdx.x == 0) {
    a.tokens[r] = int32_t(token);
    a.logprobs[r] = float(logprob);
    a.rawLogprobs[r] = float(double(x[token] - rawMax) - log(rawSum));
    a.status[r] = int32_t(SampleStatus::Ok);
  }
}

}  // namespace

void sample(const Context& ctx, const SampleArgs& a) {
  const cudaStream_t stream = streamOf(ctx);
  const int64_t rows = a.rows, V = a.vocab;
  std::vector<RowParams> params(static_cast<size_t>(rows));
  int32_t penalisedRows = 0;
  for (int64_t r = 0; r < rows; ++r) {
    RowParams& p = params[size_t(r)];
    p.seed = a.seed[r]; p.stream = a.stream[r]; p.step = a.step[r];
    p.temperature = a.temperature[r]; p.topP = a.topP[r]; p.minP = a.minP[r];
    p.repetition = a.repetitionPenalty[r]; p.presence = a.presencePenalty[r]; p.frequency = a.frequencyPenalty[r];
    p.topK = a.topK[r];
    p.historyBegin = a.historyOffsets ? a.historyOffsets[r] : 0;
    p.historyEnd = a.historyOffsets ? a.historyOffsets[r + 1] : 0;
    const bool penalised = p.historyEnd > p.historyBegin && (p.repetition != 1.0f || p.presence != 0.0f || p.frequency != 0.0f);
    p.scratchRow = penalised ? penalisedRows++ : -1;
  }
  const size_t historySize = a.historyOffsets ? size_t(a.historyOffsets[rows]) : 0;
  HostPack pack;
  const size_t paramsAt = pack.add(params.data(), params.size());
  const size_t idsAt = pack.add(a.historyIds, historySize);
  const size_t countsAt = pack.add(a.historyCounts, historySize);
  const size_t statusAt = (pack.size() + 15) & ~size_t(15);
  const size_t scratchAt = (statusAt + size_t(rows) * sizeof(int32_t) + 255) & ~size_t(255);
  DeviceBuffer dev(scratchAt + size_t(penalisedRows) * size_t(V) * sizeof(float), stream);
  pack.upload(dev, stream);

  RowsArgs k;
  k.vocab = V;
  k.logits = a.logits;
  k.params = reinterpret_cast<const RowParams*>(dev.data() + paramsAt);
  k.historyIds = reinterpret_cast<const int32_t*>(dev.data() + idsAt);
  k.historyCounts = reinterpret_cast<const int32_t*>(dev.data() + countsAt);
  k.scratch = reinterpret_cast<float*>(dev.data() + scratchAt);
  k.tokens = a.tokens; k.logprobs = a.logprobs; k.rawLogprobs = a.rawLogprobs;
  k.status = reinterpret_cast<int32_t*>(dev.data() + statusAt);
  int vocabBits = 0;
  while (vocabBits < 62 && (int64_t(1) << vocabBits) <= V) ++vocabBits;
  k.fixedBits = 62 - vocabBits;
  sampleRows<<<unsigned(rows), kThreads, 0, stream>>>(k);
  checkLaunch("sample");
  check(cudaMemcpyAsync(a.status, k.status, size_t(rows) * sizeof(int32_t), cudaMemcpyDeviceToHost, stream), "sample: status");
  check(cudaStreamSynchronize(stream), "sample");
}

}  // namespace gmai::cuda
