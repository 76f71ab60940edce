// Flash-style attention on the CPU. One work item is (sequence, kv head, block of queries);
// its rows are every (query, query head) pair that shares that kv head, so with grouped-query
// attention K and V are read once for all g heads. Keys are visited in blocks with an online
// softmax: running max m and sum l per row, the output rows rescaled when the max grows.
// Two kernels: blocks of many rows (prefill, vision windows) do both products of a key block
// (scores S = Q·Kᵀ, then O += P·V) as small GEMMs on the calling thread, so the tuned CPU GEMM
// (with its ISA dispatch) does the arithmetic; blocks of at most 16 rows (decode) use the
// lane kernel below, whose keys are split into chunks merged afterwards (flash-decoding) when
// a decode has fewer kv heads than the pool has threads.
// The backward (attentionBackward) recomputes the probabilities tile by tile from the saved
// log-sum-exp; its section below says how the work is cut.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gmai/ops.h"
#include "simd.h"
#include "vmath.h"

namespace gmai::cpu {

namespace {

constexpr int64_t kRowsPerItem = 64;  // query rows (queries x heads of a group) per work item
constexpr int64_t kKeyBlock = 128;    // keys per block: S is at most rows x kKeyBlock floats

// Queries [q0, q1) of sequence `seq`; the lane kernel also takes a key range [k0, k1) (clipped
// to what the queries see), the block kernel always all keys.
struct WorkItem { int64_t seq, q0, q1, k0 = 0, k1 = INT64_MAX; };

// A lane item's unnormalised result over its key range, for merging the ranges of one query
// block: o [rows][D] = Σ_j exp(s_j − m)·v_j, m and l = Σ_j exp(s_j − m) per row.
struct Partial { std::vector<float> o, m, l; };

// Where sequence `seq` lives in the packed q and k/v, and its causal offset: query i of the
// sequence sees keys j <= i + offset. (Args: AttentionArgs or AttentionBackwardArgs.)
struct SeqSpan {
  int64_t qBase, kBase, lenQ, lenK, offset;
  template <typename Args>
  SeqSpan(const Args& a, int64_t seq)
      : qBase(a.cuSeqlensQ ? a.cuSeqlensQ[seq] : 0),
        kBase(a.cuSeqlensK ? a.cuSeqlensK[seq] : 0),
        lenQ(a.cuSeqlensQ ? a.cuSeqlensQ[seq + 1] - qBase : a.Tq),
        lenK(a.cuSeqlensK ? a.cuSeqlensK[seq + 1] - kBase : a.Tk),
        offset(lenK - lenQ) {}
  // Keys any of the queries before q1 can see.
  int64_t keyEnd(bool causal, int64_t q1) const { return causal ? std::clamp<int64_t>(q1 + offset, 0, lenK) : lenK; }
  // Keys [k0, k0 + n) visible to query qi: the first `visible` of them.
  int64_t visible(bool causal, int64_t qi, int64_t k0, int64_t n) const {
    return causal ? std::clamp<int64_t>(qi + offset + 1 - k0, 0, n) : n;
  }
};

struct Scratch {
  std::vector<float> q, o, s, m, l;
};

// C [M, N] = alpha·op(A)·op(B) + beta·C, one thread. op(A) is [M, K]: A itself, or with
// transA the transpose of A [K, M] (read in place by the GEMM's packing, no copy).
void smallGemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool transA, const float* B, int64_t ldb,
               bool transB, float* C, int64_t ldc, float beta, float alpha = 1.0f) {
  GemmArgs g;
  g.M = M; g.N = N; g.K = K;
  g.A = A; g.lda = lda; g.aTransposed = transA;
  g.B = B; g.ldb = ldb; g.bTransposed = transB;
  g.C = C; g.ldc = ldc; g.beta = beta; g.alpha = alpha;
  gemm(Context{}, g);  // no pool: work items are already spread over the threads
}

GMAI_MULTIVERSION void attendBlock(const AttentionArgs& a, const WorkItem& w, int64_t kvh, Scratch& sc) {
  const int64_t g = a.Hq / a.Hkv, D = a.D, ldkv = a.Hkv * D;
  const SeqSpan span(a, w.seq);
  const int64_t qBase = span.qBase, kBase = span.kBase;
  const int64_t rows = (w.q1 - w.q0) * g;
  // Row r = (query w.q0 + r / g, head kvh * g + r % g): the g heads of one query are adjacent
  // in q, so the block's rows are gathered (scaled) into a dense [rows, D] matrix.
  sc.q.resize(size_t(rows * D));
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = a.q + ((qBase + w.q0 + r / g) * a.Hq + kvh * g + r % g) * D;
    for (int64_t d = 0; d < D; ++d) sc.q[size_t(r * D + d)] = src[d] * a.scale;
  }
  sc.o.assign(size_t(rows * D), 0.0f);
  sc.m.assign(size_t(rows), -INFINITY);
  sc.l.assign(size_t(rows), 0.0f);
  sc.s.resize(size_t(rows * kKeyBlock));

  const int64_t kEnd = span.keyEnd(a.causal, w.q1);
  for (int64_t k0 = 0; k0 < kEnd; k0 += kKeyBlock) {
    const int64_t n = std::min(kEnd, k0 + kKeyBlock) - k0;
    const float* kBlock = a.k + (kBase + k0) * ldkv + kvh * D;
    const float* vBlock = a.v + (kBase + k0) * ldkv + kvh * D;
    smallGemm(rows, n, D, sc.q.data(), D, false, kBlock, ldkv, true, sc.s.data(), n, 0.0f);  // S = Q·Kᵀ
    for (int64_t r = 0; r < rows; ++r) {
      float* s = &sc.s[size_t(r * n)];
      // Keys [k0, k0 + visible) of this block are visible to the row.
      const int64_t visible = span.visible(a.causal, w.q0 + r / g, k0, n);
      const float blockMax = vmath::scanRow(s, visible).max;  // vectorised (a scalar max is a latency chain)
      const float mOld = sc.m[size_t(r)], mNew = std::max(mOld, blockMax);
      if (visible == 0 || mNew == -INFINITY) {  // nothing (finite) to add from this block
        std::fill(s, s + n, 0.0f);
        continue;
      }
      const float corr = vmath::expNonPositive(mOld - mNew);  // 0 when mOld = -inf
      const double sum = vmath::expWeights(s, mNew, 1.0f, s, visible);  // P in place
      std::fill(s + visible, s + n, 0.0f);
      sc.l[size_t(r)] = sc.l[size_t(r)] * corr + float(sum);
      sc.m[size_t(r)] = mNew;
      if (corr != 1.0f)
        for (float *o = &sc.o[size_t(r * D)], *e = o + D; o < e; ++o) *o *= corr;
    }
    smallGemm(rows, D, n, sc.s.data(), n, false, vBlock, ldkv, false, sc.o.data(), D, 1.0f);  // O += P·V
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t qi = w.q0 + r / g, h = kvh * g + r % g;
    float* out = a.out + ((qBase + qi) * a.Hq + h) * D;
    const float l = sc.l[size_t(r)];
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;  // a row that saw no key: zeros
    for (int64_t d = 0; d < D; ++d) out[d] = sc.o[size_t(r * D + d)] * inv;
    if (a.lse) a.lse[h * a.Tq + qBase + qi] = l > 0.0f ? sc.m[size_t(r)] + std::log(l) : -INFINITY;
  }
}

// Few rows (decode: the g heads of one query): small GEMMs would be mostly overhead and
// horizontal sums. Instead the rows are the lanes of one vector: Qt [D][lanes] holds the
// queries transposed, so the scores of one key for all rows are one vector,
// S[j] = Σ_d k_j[d]·Qt[d], the softmax statistics are lane-wise, and so is the output
// Ot[d] += Σ_j v_j[d]·P[j]. Lanes are GCC vectors of 8 or 16 floats (as few as the rows
// need; one ymm or zmm in the AVX-512 clone, narrower registers in the others). Unused lanes
// carry zeros and are masked out.
typedef float Lanes8 __attribute__((vector_size(32)));
typedef float Lanes16 __attribute__((vector_size(64)));
typedef int32_t LaneInts8 __attribute__((vector_size(32)));
typedef int32_t LaneInts16 __attribute__((vector_size(64)));
template <typename L> struct LaneTraits;
template <> struct LaneTraits<Lanes8> { using Ints = LaneInts8; static constexpr int64_t n = 8; };
template <> struct LaneTraits<Lanes16> { using Ints = LaneInts16; static constexpr int64_t n = 16; };
constexpr int64_t kMaxLanes = 16;
constexpr int64_t kPrefetchKeys = 32;
constexpr int64_t kGroup = 8;  // keys per pass of the lane kernel's loops (even)
// The lane kernel splits a query block's keys into chunks (flash-decoding) when there are more
// threads than kv heads; a chunk has at least this many keys.
constexpr int64_t kMinChunkKeys = 256;

#define GMAI_INLINE inline __attribute__((always_inline))
template <typename L> GMAI_INLINE L loadLanes(const float* p) { L v; std::memcpy(&v, p, sizeof v); return v; }
template <typename L> GMAI_INLINE void storeLanes(float* p, L v) { std::memcpy(p, &v, sizeof v); }
template <typename L> GMAI_INLINE L splat(float x) { return L{} + x; }
template <typename L> GMAI_INLINE L maxLanes(L a, L b) { return a > b ? a : b; }

// exp(x) for x <= 0 per lane: vmath::expNonPositive's formula (Cephes, about 2 ulp),
// exactly 0 below -87.3 (so -inf gives 0).
template <typename L> GMAI_INLINE L expLanes(L x) {
  using Ints = typename LaneTraits<L>::Ints;
  using namespace expPoly;
  const L floor = splat<L>(kFloor);
  const L xc = maxLanes(x, floor);
  const L t = xc * kLog2e + 0.5f;
  Ints n = __builtin_convertvector(t, Ints);  // truncates toward zero...
  n += __builtin_convertvector(n, L) > t;    // ...so step down where that rounded up
  const L nf = __builtin_convertvector(n, L);
  const L r = (xc - nf * kLn2Hi) - nf * kLn2Lo;
  L p = splat<L>(kP0);
  p = p * r + kP1; p = p * r + kP2; p = p * r + kP3; p = p * r + kP4; p = p * r + kP5;
  const L y = p * r * r + r + 1.0f;
  const L scale = (L)((n + 127) << 23);
  return x < floor ? splat<L>(0.0f) : y * scale;
}

template <typename Lanes>
GMAI_INLINE void attendLanes(const AttentionArgs& a, const WorkItem& w, int64_t kvh, Scratch& sc, Partial* part) {
  constexpr int64_t kLanes = LaneTraits<Lanes>::n;
  const int64_t g = a.Hq / a.Hkv, D = a.D, ldkv = a.Hkv * D;
  const SeqSpan span(a, w.seq);
  const int64_t qBase = span.qBase, kBase = span.kBase, lenK = span.lenK, offset = span.offset;
  const int64_t rows = (w.q1 - w.q0) * g;  // <= kLanes
  // Qt[d] and Ot[d]: column d of the block's queries (scaled) and outputs, one lane a row.
  sc.q.assign(size_t(D * kLanes), 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = a.q + ((qBase + w.q0 + r / g) * a.Hq + kvh * g + r % g) * D;
    for (int64_t d = 0; d < D; ++d) sc.q[size_t(d * kLanes + r)] = src[d] * a.scale;
  }
  sc.o.assign(size_t(D * kLanes), 0.0f);
  sc.s.resize(size_t(kKeyBlock * kLanes));
  const float* Qt = sc.q.data();
  float* Ot = sc.o.data();
  float* S = sc.s.data();  // [n][kLanes] scores, then weights
  // The last key each lane sees (causal; -1 for unused lanes), as floats for vector compares.
  float last[kLanes];
  for (int64_t r = 0; r < kLanes; ++r)
    last[r] = r < rows ? float(a.causal ? std::min(lenK - 1, w.q0 + r / g + offset) : lenK - 1) : -1.0f;
  const Lanes lastKey = loadLanes<Lanes>(last);
  Lanes m = splat<Lanes>(-INFINITY), l = splat<Lanes>(0.0f);
  const int64_t kEnd = std::min(span.keyEnd(a.causal, w.q1), w.k1);
  for (int64_t k0 = w.k0; k0 < kEnd; k0 += kKeyBlock) {
    const int64_t n = std::min(kEnd, k0 + kKeyBlock) - k0;
    const float* kBlock = a.k + (kBase + k0) * ldkv + kvh * D;
    const float* vBlock = a.v + (kBase + k0) * ldkv + kvh * D;
    // S[j] = Σ_d k_j[d]·Qt[d], kGroup keys at a time: kGroup independent FMA chains, enough to
    // keep both FMA pipes busy (with four, the 4-cycle FMA latency left half of them idle).
    Lanes blockMax = splat<Lanes>(-INFINITY);
    auto keep = [&](int64_t j, Lanes acc) {
      const Lanes sv = splat<Lanes>(float(k0 + j)) <= lastKey ? acc : splat<Lanes>(-INFINITY);
      storeLanes(S + j * kLanes, sv);
      blockMax = maxLanes(blockMax, sv);
    };
    int64_t j = 0;
    for (; j + kGroup <= n; j += kGroup) {
      const float* kp = kBlock + j * ldkv;
      // The cache is cold (the layer's weights streamed through since this layer last ran):
      // fetch keys kPrefetchKeys ahead, and this group's values for the pass below, into L2
      // (into L1 the prefetches wait on the few L1 miss buffers: twice as slow after a GEMV).
      for (int64_t i = 0; i < kGroup; ++i)
        for (int64_t d = 0; d < D; d += 16) {
          __builtin_prefetch(kp + (kPrefetchKeys + i) * ldkv + d, 0, 2);
          __builtin_prefetch(vBlock + (j + i) * ldkv + d, 0, 2);
        }
      Lanes acc[kGroup];
      for (int64_t i = 0; i < kGroup; ++i) acc[i] = splat<Lanes>(0.0f);
      for (int64_t d = 0; d < D; ++d) {
        const Lanes qd = loadLanes<Lanes>(Qt + d * kLanes);
#pragma GCC unroll 8
        for (int64_t i = 0; i < kGroup; ++i) acc[i] += kp[i * ldkv + d] * qd;
      }
      for (int64_t i = 0; i < kGroup; ++i) keep(j + i, acc[i]);
    }
    for (; j < n; ++j) {
      const float* kp = kBlock + j * ldkv;
      Lanes acc = splat<Lanes>(0.0f);
      for (int64_t d = 0; d < D; ++d) acc += kp[d] * loadLanes<Lanes>(Qt + d * kLanes);
      keep(j, acc);
    }
    // Online softmax, lane-wise. A lane with no finite score yet shifts by 0: its scores are
    // all -inf, so its weights are 0.
    const Lanes mNew = maxLanes(m, blockMax);
    const Lanes shift = mNew == -INFINITY ? splat<Lanes>(0.0f) : mNew;
    const Lanes corr = expLanes(m - shift);
    Lanes sum = splat<Lanes>(0.0f);
    for (j = 0; j < n; ++j) {
      const Lanes p = expLanes(loadLanes<Lanes>(S + j * kLanes) - shift);
      storeLanes(S + j * kLanes, p);
      sum += p;
    }
    l = l * corr + sum;
    m = mNew;
    // Ot[d] = Ot[d]·corr + Σ_j v_j[d]·P[j], kGroup keys per pass over Ot (two partial sums,
    // so each d is two short FMA chains).
    for (int64_t d = 0; d < D; ++d) storeLanes(Ot + d * kLanes, loadLanes<Lanes>(Ot + d * kLanes) * corr);
    for (j = 0; j + kGroup <= n; j += kGroup) {
      Lanes p[kGroup];
      for (int64_t i = 0; i < kGroup; ++i) p[i] = loadLanes<Lanes>(S + (j + i) * kLanes);
      const float* vp = vBlock + j * ldkv;
      for (int64_t d = 0; d < D; ++d) {
        Lanes lo = loadLanes<Lanes>(Ot + d * kLanes), hi = splat<Lanes>(0.0f);
#pragma GCC unroll 8
        for (int64_t i = 0; i < kGroup; i += 2) {
          lo += vp[i * ldkv + d] * p[i];
          hi += vp[(i + 1) * ldkv + d] * p[i + 1];
        }
        storeLanes(Ot + d * kLanes, lo + hi);
      }
    }
    for (; j < n; ++j) {
      const Lanes p = loadLanes<Lanes>(S + j * kLanes);
      const float* v = vBlock + j * ldkv;
      for (int64_t d = 0; d < D; ++d) storeLanes(Ot + d * kLanes, loadLanes<Lanes>(Ot + d * kLanes) + v[d] * p);
    }
  }
  float lv[kLanes], mv[kLanes];
  storeLanes(lv, l);
  storeLanes(mv, m);
  if (part) {  // one key range of several: merged by mergePartials
    part->o.resize(size_t(rows * D));
    part->m.assign(mv, mv + rows);
    part->l.assign(lv, lv + rows);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t d = 0; d < D; ++d) part->o[size_t(r * D + d)] = Ot[d * kLanes + r];
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t qi = w.q0 + r / g, h = kvh * g + r % g;
    float* out = a.out + ((qBase + qi) * a.Hq + h) * D;
    const float inv = lv[r] > 0.0f ? 1.0f / lv[r] : 0.0f;  // a row that saw no key: zeros
    for (int64_t d = 0; d < D; ++d) out[d] = Ot[d * kLanes + r] * inv;
    if (a.lse) a.lse[h * a.Tq + qBase + qi] = lv[r] > 0.0f ? mv[r] + std::log(lv[r]) : -INFINITY;
  }
}

GMAI_MULTIVERSION void attendLanes8(const AttentionArgs& a, const WorkItem& w, int64_t kvh, Scratch& sc, Partial* part) {
  attendLanes<Lanes8>(a, w, kvh, sc, part);
}
GMAI_MULTIVERSION void attendLanes16(const AttentionArgs& a, const WorkItem& w, int64_t kvh, Scratch& sc, Partial* part) {
  attendLanes<Lanes16>(a, w, kvh, sc, part);
}

// The output rows of query block w (kv head kvh) from the partials of its key ranges: rescale
// each to the largest running max, add, normalise (a row that saw no key gets zeros, lse -inf).
void mergePartials(const AttentionArgs& a, const WorkItem& w, int64_t kvh, const Partial* parts, int64_t count) {
  const int64_t g = a.Hq / a.Hkv, D = a.D, rows = (w.q1 - w.q0) * g;
  const int64_t qBase = a.cuSeqlensQ ? a.cuSeqlensQ[w.seq] : 0;
  for (int64_t r = 0; r < rows; ++r) {
    float m = -INFINITY;
    for (int64_t c = 0; c < count; ++c) m = std::max(m, parts[c].m[size_t(r)]);
    const int64_t qi = w.q0 + r / g, h = kvh * g + r % g;
    float* out = a.out + ((qBase + qi) * a.Hq + h) * D;
    std::fill(out, out + D, 0.0f);
    float l = 0.0f;
    if (m != -INFINITY) {
      for (int64_t c = 0; c < count; ++c) {
        const float scale = vmath::expNonPositive(parts[c].m[size_t(r)] - m);  // 0 for a range that saw nothing
        l += parts[c].l[size_t(r)] * scale;
        const float* o = parts[c].o.data() + r * D;
        for (int64_t d = 0; d < D; ++d) out[d] += o[d] * scale;
      }
      const float inv = 1.0f / l;
      for (int64_t d = 0; d < D; ++d) out[d] *= inv;
    }
    if (a.lse) a.lse[h * a.Tq + qBase + qi] = l > 0.0f ? m + std::log(l) : -INFINITY;
  }
}

}  // namespace

void attention(const Context& ctx, const AttentionArgs& a) {
  const int64_t g = a.Hq / a.Hkv;
  // Decode-sized problems (every sequence's queries x g heads fit the lanes) take the lane
  // kernel; anything larger goes through GEMM blocks.
  int64_t maxLenQ = 0;
  for (int64_t s = 0; s < a.numSeqs; ++s)
    maxLenQ = std::max<int64_t>(maxLenQ, a.cuSeqlensQ ? a.cuSeqlensQ[s + 1] - a.cuSeqlensQ[s] : a.Tq);
  const int64_t lanes = maxLenQ * g <= 8 ? 8 : maxLenQ * g <= kMaxLanes ? 16 : 0;
  const int64_t queriesPerItem = lanes ? lanes / g : std::max<int64_t>(1, kRowsPerItem / g);
  std::vector<WorkItem> items;
  for (int64_t s = 0; s < a.numSeqs; ++s) {
    const int64_t lenQ = a.cuSeqlensQ ? a.cuSeqlensQ[s + 1] - a.cuSeqlensQ[s] : a.Tq;
    for (int64_t q0 = 0; q0 < lenQ; q0 += queriesPerItem) items.push_back({s, q0, std::min(lenQ, q0 + queriesPerItem)});
  }
  if (!lanes) {
    // Items are dealt round-robin: under a causal mask later queries see more keys, so
    // contiguous halves would leave one thread with three quarters of the work.
    const int64_t n = int64_t(items.size()) * a.Hkv;
    auto work = [&](int tid, int threads) {
      Scratch scratch;
      for (int64_t i = tid; i < n; i += threads) attendBlock(a, items[size_t(i / a.Hkv)], i % a.Hkv, scratch);
    };
    if (n > 1 && ctx.pool && ctx.pool->size() > 1) ctx.pool->run(work);
    else work(0, 1);
    return;
  }
  // Lane kernel (decode): one unit per (query block, kv head) — or, when that leaves threads
  // idle (a single decode with fewer kv heads than threads), per (query block, key chunk, kv
  // head), the chunks' partials merged afterwards. Units are ordered [query block][chunk][kv
  // head] and dealt in contiguous runs, so a thread's chunks are one stretch of the cache.
  struct Unit { WorkItem w; int64_t kvh, partial; };  // partial: index into parts, or -1
  struct Group { WorkItem w; int64_t kvh, first, count; };
  std::vector<Unit> units;
  std::vector<Group> groups;
  int64_t partials = 0;
  const int64_t poolThreads = ctx.pool ? ctx.pool->size() : 1, blocks = int64_t(items.size()) * a.Hkv;
  // Chunks per query block: enough for every thread to have a unit, none under kMinChunkKeys
  // (a unit has a fixed cost: gathering its queries, writing and merging its partial).
  const int64_t wanted = (poolThreads + blocks - 1) / blocks;
  for (const WorkItem& w : items) {
    const int64_t kEnd = SeqSpan(a, w.seq).keyEnd(a.causal, w.q1);
    const int64_t chunks = std::max<int64_t>(1, std::min(wanted, kEnd / kMinChunkKeys));
    const int64_t chunkKeys = (kEnd + chunks - 1) / chunks;
    for (int64_t h = 0; h < a.Hkv; ++h)
      if (chunks > 1) groups.push_back({w, h, partials + h * chunks, chunks});
    for (int64_t c = 0; c < chunks; ++c)
      for (int64_t h = 0; h < a.Hkv; ++h) {
        WorkItem part = w;
        if (chunks > 1) { part.k0 = c * chunkKeys; part.k1 = std::min(kEnd, (c + 1) * chunkKeys); }
        units.push_back({part, h, chunks > 1 ? partials + h * chunks + c : -1});
      }
    if (chunks > 1) partials += a.Hkv * chunks;
  }
  std::vector<Partial> parts(static_cast<size_t>(partials));
  const int64_t n = int64_t(units.size());
  auto work = [&](int tid, int threads) {
    Scratch scratch;
    for (int64_t i = n * tid / threads, e = n * (tid + 1) / threads; i < e; ++i) {
      const Unit& u = units[size_t(i)];
      Partial* part = u.partial >= 0 ? &parts[size_t(u.partial)] : nullptr;
      if (lanes == 8) attendLanes8(a, u.w, u.kvh, scratch, part);
      else attendLanes16(a, u.w, u.kvh, scratch, part);
    }
  };
  if (n > 1 && ctx.pool && ctx.pool->size() > 1) ctx.pool->run(work);
  else work(0, 1);
  for (const Group& gr : groups) mergePartials(a, gr.w, gr.kvh, parts.data() + gr.first, gr.count);
}

// ---- Backward ------------------------------------------------------------------------------
// The work is cut into tiles (query block × key block) of one sequence and kv head; a query
// block's rows are (query, head of the group) pairs, as in the forward. A tile recomputes
// S = Qs·Kᵀ (Qs = q·scale, as the forward), P = exp(S − lse), dP = dO·Vᵀ, dS = P ∘ (dP − D)
// with small GEMMs, then adds its share of dv = Pᵀ·dO, dk = dSᵀ·Qs (= scale·dSᵀ·Q) and/or
// dq = scale·dS·K. Two schedules; in both every output element is written by one work item
// only (no races), from the same tiles added in the same order, so the bits depend neither on
// the schedule nor on the thread count:
//  - fused, when there are many (sequence, kv head) pairs for the threads (vision windows,
//    packed batches): an item is one pair and computes its queries' dq and its keys' dk, dv;
//  - split, when there are few (one long sequence): items (sequence, kv head, key block) make
//    dk and dv, then items (sequence, kv head, query block) make dq. Each tile's P and dS are
//    computed in both passes (7 small GEMMs a tile instead of 5), the price of the parallelism.

namespace {

struct BackwardScratch {
  std::vector<float> q, dout, lse, delta;  // the query block: Qs and dO [rows, D]; lse, D per row
  std::vector<float> p, ds;                // the tile: P, dS [rows, n]
  std::vector<float> dq;                   // the query block's dq [rows, D]
};

// Gathers query block [q0, q1) of kv head kvh into sc: rows of Qs and dO, each row's lse and
// Dᵣ = Σ_d dO·O. Row r is query q0 + r / g with head kvh·g + r % g.
GMAI_MULTIVERSION void gatherQueryBlock(const AttentionBackwardArgs& a, const SeqSpan& span, int64_t q0, int64_t q1, int64_t kvh,
                      BackwardScratch& sc) {
  const int64_t g = a.Hq / a.Hkv, D = a.D, rows = (q1 - q0) * g;
  sc.q.resize(size_t(rows * D));
  sc.dout.resize(size_t(rows * D));
  sc.lse.resize(size_t(rows));
  sc.delta.resize(size_t(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = span.qBase + q0 + r / g, h = kvh * g + r % g, at = (t * a.Hq + h) * D;
    float* qs = &sc.q[size_t(r * D)];
    float* dO = &sc.dout[size_t(r * D)];
    for (int64_t d = 0; d < D; ++d) qs[d] = a.q[at + d] * a.scale;
    std::copy(a.dout + at, a.dout + at + D, dO);
    sc.delta[size_t(r)] = vmath::dot(dO, a.out + at, D);
    sc.lse[size_t(r)] = a.lse[h * a.Tq + t];
  }
}

// One tile: the query block [q0, q1) gathered in sc against keys [k0, k0 + n) of the sequence.
// withKeys: adds Pᵀ·dO to dv and dSᵀ·Qs to dk (rows of the output tensors);
// withQueries: adds scale·dS·K to sc.dq.
GMAI_MULTIVERSION void backwardTile(const AttentionBackwardArgs& a, const SeqSpan& span, int64_t q0, int64_t q1, int64_t kvh,
                  int64_t k0, int64_t n, BackwardScratch& sc, bool withKeys, bool withQueries) {
  const int64_t g = a.Hq / a.Hkv, D = a.D, ldkv = a.Hkv * D, rows = (q1 - q0) * g;
  if (span.visible(a.causal, q1 - 1, k0, n) == 0) return;  // no query of the block sees these keys
  const int64_t kvAt = (span.kBase + k0) * ldkv + kvh * D;
  const float* kBlock = a.k + kvAt;
  const float* vBlock = a.v + kvAt;
  sc.p.resize(size_t(rows * n));
  sc.ds.resize(size_t(rows * n));
  smallGemm(rows, n, D, sc.q.data(), D, false, kBlock, ldkv, true, sc.p.data(), n, 0.0f);      // S = Qs·Kᵀ
  smallGemm(rows, n, D, sc.dout.data(), D, false, vBlock, ldkv, true, sc.ds.data(), n, 0.0f);  // dP = dO·Vᵀ
  for (int64_t r = 0; r < rows; ++r) {
    float* p = &sc.p[size_t(r * n)];
    float* ds = &sc.ds[size_t(r * n)];
    const float lse = sc.lse[size_t(r)], delta = sc.delta[size_t(r)];
    // P = exp(S − lse) on the keys the row sees; a row that saw no key (lse = -inf) has none.
    const int64_t visible = lse == -INFINITY ? 0 : span.visible(a.causal, q0 + r / g, k0, n);
    vmath::expWeights(p, lse, 1.0f, p, visible);
    std::fill(p + visible, p + n, 0.0f);
    for (int64_t j = 0; j < n; ++j) ds[j] = p[j] * (ds[j] - delta);  // dS = P ∘ (dP − D)
  }
  if (withKeys) {
    smallGemm(n, D, rows, sc.p.data(), n, true, sc.dout.data(), D, false, a.dv + kvAt, ldkv, 1.0f);  // dv += Pᵀ·dO
    smallGemm(n, D, rows, sc.ds.data(), n, true, sc.q.data(), D, false, a.dk + kvAt, ldkv, 1.0f);    // dk += dSᵀ·Qs
  }
  if (withQueries)  // dq += scale·dS·K
    smallGemm(rows, D, n, sc.ds.data(), n, false, kBlock, ldkv, false, sc.dq.data(), D, 1.0f, a.scale);
}

// dq of the query block [q0, q1) (kv head kvh) over all the keys it sees, written to a.dq;
// withKeys: the tiles also add to dk and dv.
GMAI_MULTIVERSION void backwardQueryBlock(const AttentionBackwardArgs& a, const SeqSpan& span, int64_t q0, int64_t q1, int64_t kvh,
                        BackwardScratch& sc, bool withKeys) {
  const int64_t g = a.Hq / a.Hkv, D = a.D, rows = (q1 - q0) * g;
  gatherQueryBlock(a, span, q0, q1, kvh, sc);
  sc.dq.assign(size_t(rows * D), 0.0f);
  const int64_t kEnd = span.keyEnd(a.causal, q1);
  for (int64_t k0 = 0; k0 < kEnd; k0 += kKeyBlock)
    backwardTile(a, span, q0, q1, kvh, k0, std::min(kEnd, k0 + kKeyBlock) - k0, sc, withKeys, true);
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = &sc.dq[size_t(r * D)];
    std::copy(src, src + D, a.dq + ((span.qBase + q0 + r / g) * a.Hq + kvh * g + r % g) * D);
  }
}

// Zeroes dk and dv of keys [k0, k1) of the sequence, kv head kvh (they are then accumulated).
void zeroKeyGrads(const AttentionBackwardArgs& a, const SeqSpan& span, int64_t k0, int64_t k1, int64_t kvh) {
  for (int64_t j = k0; j < k1; ++j) {
    const int64_t at = ((span.kBase + j) * a.Hkv + kvh) * a.D;
    std::fill(a.dk + at, a.dk + at + a.D, 0.0f);
    std::fill(a.dv + at, a.dv + at + a.D, 0.0f);
  }
}

// A backward work item: sequence, kv head and a range of queries or keys (by schedule).
struct BackwardItem { int64_t seq, kvh, begin, end, cost; };

// Runs fn(item, scratch) on every item over the pool, the costliest first, each thread taking
// the next one when free (which thread runs an item does not change what it writes).
template <typename Fn>
void runItems(const Context& ctx, std::vector<BackwardItem>& items, Fn fn) {
  std::stable_sort(items.begin(), items.end(), [](const BackwardItem& x, const BackwardItem& y) { return x.cost > y.cost; });
  std::atomic<size_t> next{0};
  auto work = [&](int, int) {
    BackwardScratch scratch;
    for (size_t i; (i = next.fetch_add(1)) < items.size();) fn(items[i], scratch);
  };
  if (items.size() > 1 && ctx.pool && ctx.pool->size() > 1) ctx.pool->run(work);
  else work(0, 1);
}

}  // namespace

void attentionBackward(const Context& ctx, const AttentionBackwardArgs& a) {
  const int64_t g = a.Hq / a.Hkv, queriesPerBlock = std::max<int64_t>(1, kRowsPerItem / g);
  // Work of queries [q0, q1) of a sequence: about (queries × keys they see); + 1 for the fixed cost.
  auto cost = [&](const SeqSpan& span, int64_t q0, int64_t q1) {
    return (q1 - q0) * (span.keyEnd(a.causal, q0 + 1) + span.keyEnd(a.causal, q1)) / 2 + 1;
  };
  std::vector<BackwardItem> pairs;
  int64_t total = 0, largest = 0;
  for (int64_t s = 0; s < a.numSeqs; ++s) {
    const SeqSpan span(a, s);
    const int64_t c = cost(span, 0, span.lenQ);
    for (int64_t h = 0; h < a.Hkv; ++h) pairs.push_back({s, h, 0, 0, c});
    total += c * a.Hkv;
    largest = std::max(largest, c);
  }
  const int64_t threads = ctx.pool ? ctx.pool->size() : 1;
  if (threads == 1 || 2 * threads * largest <= total) {
    // Fused: the largest pair is at most half a thread's share, so pairs balance well.
    runItems(ctx, pairs, [&](const BackwardItem& it, BackwardScratch& sc) {
      const SeqSpan span(a, it.seq);
      zeroKeyGrads(a, span, 0, span.lenK, it.kvh);
      for (int64_t q0 = 0; q0 < span.lenQ; q0 += queriesPerBlock)
        backwardQueryBlock(a, span, q0, std::min(span.lenQ, q0 + queriesPerBlock), it.kvh, sc, true);
    });
    return;
  }
  // Split: dk and dv per key block (each tile against every query block that sees it)...
  std::vector<BackwardItem> keyBlocks, queryBlocks;
  for (int64_t s = 0; s < a.numSeqs; ++s) {
    const SeqSpan span(a, s);
    for (int64_t k0 = 0; k0 < span.lenK; k0 += kKeyBlock) {
      const int64_t k1 = std::min(span.lenK, k0 + kKeyBlock);
      const int64_t c = (k1 - k0) * (a.causal ? span.lenQ - std::clamp<int64_t>(k0 - span.offset, 0, span.lenQ) : span.lenQ) + 1;
      for (int64_t h = 0; h < a.Hkv; ++h) keyBlocks.push_back({s, h, k0, k1, c});
    }
    for (int64_t q0 = 0; q0 < span.lenQ; q0 += queriesPerBlock) {
      const int64_t q1 = std::min(span.lenQ, q0 + queriesPerBlock);
      for (int64_t h = 0; h < a.Hkv; ++h) queryBlocks.push_back({s, h, q0, q1, cost(span, q0, q1)});
    }
  }
  runItems(ctx, keyBlocks, [&](const BackwardItem& it, BackwardScratch& sc) {
    const SeqSpan span(a, it.seq);
    zeroKeyGrads(a, span, it.begin, it.end, it.kvh);
    for (int64_t q0 = 0; q0 < span.lenQ; q0 += queriesPerBlock) {
      const int64_t q1 = std::min(span.lenQ, q0 + queriesPerBlock);
      if (span.visible(a.causal, q1 - 1, it.begin, it.end - it.begin) == 0) continue;
      gatherQueryBlock(a, span, q0, q1, it.kvh, sc);
      backwardTile(a, span, q0, q1, it.kvh, it.begin, it.end - it.begin, sc, true, false);
    }
  });
  // ...then dq per query block.
  runItems(ctx, queryBlocks, [&](const BackwardItem& it, BackwardScratch& sc) {
    backwardQueryBlock(a, SeqSpan(a, it.seq), it.begin, it.end, it.kvh, sc, false);
  });
}

namespace {
// rope with sin scaled by sinSign: +1 is the rotation, −1 its transpose (the backward).
void rotateHalf(const Context& ctx, const RopeArgs& a, float sinSign) {
  const int64_t half = a.D / 2;
  ctx.pool->parallelFor(a.T, std::max<int64_t>(1, 4096 / std::max<int64_t>(a.H * a.D, 1)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* c = a.cos + t * half;
      const float* s = a.sin + t * half;
      for (int64_t h = 0; h < a.H; ++h) {
        const float* x = a.x + (t * a.H + h) * a.D;
        float* o = a.out + (t * a.H + h) * a.D;
        for (int64_t i = 0; i < half; ++i) {
          const float x1 = x[i], x2 = x[i + half], si = sinSign * s[i];  // read both before writing (out may be x)
          o[i] = x1 * c[i] - x2 * si;
          o[i + half] = x2 * c[i] + x1 * si;
        }
      }
    }
  });
}
}  // namespace

void rope(const Context& ctx, const RopeArgs& a) { rotateHalf(ctx, a, 1.0f); }
void ropeBackward(const Context& ctx, const RopeArgs& a) { rotateHalf(ctx, a, -1.0f); }

void scatterRows(const Context& ctx, const ScatterRowsArgs& a) {
  ctx.pool->parallelFor(a.count, std::max<int64_t>(1, 16384 / std::max<int64_t>(a.dim, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      std::copy(a.src + i * a.dim, a.src + (i + 1) * a.dim, a.dst + int64_t(a.idx[i]) * a.dim);
  });
}

}  // namespace gmai::cpu
