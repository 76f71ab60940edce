// GEMM correctness checks against a float64 reference, run by test/gemm.test.js in child
// processes (one per ISA cap and thread count, which are fixed when the addon loads).
// Usage: GMAI_CPU_ISA=avx2 GMAI_NUM_THREADS=2 node test/gemm-check.js SEED
// Prints one JSON line: { isa, threads, seed, checked, failures: [...] }.
import { Tensor, ops, runtimeInfo } from '../dist/index.js';
import { rng } from './helpers.js';

// [M, K, N]: none a multiple of any tile; size 1; small-M (<= 8) and blocked paths; K, M and
// N crossing the cache blocks of every ISA (KC 192/256, MC 144/168, NC 3072/4096 columns).
const SHAPES = [
  [1, 1, 1], [1, 7, 3], [2, 33, 19], [4, 100, 37], [8, 70, 45], [9, 33, 70], [5, 17, 33],
  [13, 129, 67], [67, 300, 257], [170, 300, 40], [9, 20, 4200], [3, 37, 1100], [1, 45, 600],
  [3, 0, 5], [20, 0, 7],
];
const DTYPES = ['float32', 'bfloat16', 'float16'];

function randomF32(r, n) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r.uniform(-1, 1);
  return a;
}

/** B as a tensor of `dtype` plus the float values it really holds (rounded for bf16/f16). */
function makeB(r, shape, dtype) {
  const f32 = Tensor.from(randomF32(r, shape.reduce((x, y) => x * y, 1)), shape);
  if (dtype === 'float32') return { b: f32, values: f32.toArray() };
  const b = ops.cast(f32, dtype);
  f32.dispose();
  return { b, values: b.toArray() };
}

/** Per output: sum_k a*b in float64 and the error scale sum_k |a||b|. A is [M, K], or [K, M] with transA. */
function reference(A, Bv, batch, M, K, N, transB, bBatched, transA = false) {
  const acc = new Float64Array(batch * M * N), bound = new Float64Array(batch * M * N);
  for (let b = 0; b < batch; b++) {
    const bOff = bBatched ? b * K * N : 0;
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0, s1 = 0;
        for (let k = 0; k < K; k++) {
          const a = transA ? A[(b * K + k) * M + i] : A[(b * M + i) * K + k];
          const w = Bv[bOff + (transB ? j * K + k : k * N + j)];
          s += a * w;
          s1 += Math.abs(a * w);
        }
        acc[(b * M + i) * N + j] = s;
        bound[(b * M + i) * N + j] = s1;
      }
  }
  return { acc, bound };
}

// What each call adds on top of A·B: plain, bias + alpha with C poisoned (beta 0 means
// write-only), and accumulate into a prefilled C.
const VARIANTS = [
  { name: 'plain', alpha: 1, beta: 0, bias: false, prefill: 'nan' },
  { name: 'alpha+bias, C=NaN', alpha: 0.5, beta: 0, bias: true, prefill: 'nan' },
  { name: 'beta accumulate', alpha: -1.25, beta: 0.75, bias: true, prefill: 'random' },
];

function check(r, failures, { batch, M, K, N, transA = false, transB, dtype, bBatched }) {
  const A = randomF32(r, batch * M * K);
  const aShape = transA ? [K, M] : [M, K];
  const a = Tensor.from(A, batch === 1 ? aShape : [batch, ...aShape]);
  const bShape = transB ? [N, K] : [K, N];
  const { b, values } = makeB(r, bBatched ? [batch, ...bShape] : bShape, dtype);
  const { acc, bound } = reference(A, values, batch, M, K, N, transB, bBatched, transA);
  const biasV = randomF32(r, N);
  const bias = Tensor.from(biasV, [N]);
  const cShape = batch === 1 ? [M, N] : [batch, M, N];
  let checked = 0;
  for (const v of VARIANTS) {
    const c0 = v.prefill === 'nan' ? new Float32Array(batch * M * N).fill(NaN) : randomF32(r, batch * M * N);
    const c = Tensor.from(c0, cShape);
    ops.matmul(a, b, { transA, transB, alpha: v.alpha, beta: v.beta, bias: v.bias ? bias : undefined, out: c });
    const got = c.toArray();
    c.dispose();
    for (let idx = 0; idx < got.length; idx++) {
      const j = idx % N;
      const biasTerm = v.bias ? biasV[j] : 0, betaTerm = v.beta ? v.beta * c0[idx] : 0;
      const want = v.alpha * acc[idx] + biasTerm + betaTerm;
      // float32 rounding of every term, not of their (possibly cancelling) sum
      const tol = 1e-5 * (Math.abs(v.alpha) * bound[idx] + Math.abs(biasTerm) + Math.abs(betaTerm)) + 1e-30;
      if (!(Math.abs(got[idx] - want) <= tol)) {
        failures.push(`${batch}x(${M}x${K}x${N}) transA=${transA} transB=${transB} ${dtype} bBatched=${bBatched} ${v.name}: ` +
          `c[${idx}] = ${got[idx]}, expected ${want} (tol ${tol.toExponential(2)})`);
        break;
      }
    }
    checked++;
  }
  a.dispose(); b.dispose(); bias.dispose();
  return checked;
}

// Grouped products of one A (ops.linears: q/k/v, gate/up): the fused decode path (M <= 8,
// one dtype; thread slices cross part boundaries) and the part-by-part fallback (M > 8).
const GROUPS = [
  [1, 70, [45, 7, 7]], [3, 33, [19, 1, 64]], [8, 129, [5, 130]], [2, 896, [96, 16, 16]], [9, 20, [4, 70]], [1, 5, [1]],
];

function checkGroup(r, failures, [M, K, Ns], dtype) {
  const A = randomF32(r, M * K);
  const a = Tensor.from(A, [M, K]);
  const parts = Ns.map((N, i) => ({ N, ...makeB(r, [N, K], dtype), biasV: i % 2 === 0 ? randomF32(r, N) : null }));
  const biases = parts.map((p) => (p.biasV ? Tensor.from(p.biasV, [p.N]) : undefined));
  const outs = parts.map((p) => Tensor.full([M, p.N], NaN));  // poisoned
  ops.linears(a, parts.map((p) => p.b), biases, outs);
  parts.forEach((p, i) => {
    const { acc, bound } = reference(A, p.values, 1, M, K, p.N, true, false);
    const got = outs[i].toArray();
    for (let idx = 0; idx < got.length; idx++) {
      const biasTerm = p.biasV ? p.biasV[idx % p.N] : 0;
      const want = acc[idx] + biasTerm, tol = 1e-5 * (bound[idx] + Math.abs(biasTerm)) + 1e-30;
      if (!(Math.abs(got[idx] - want) <= tol)) {
        failures.push(`group ${M}x${K}x[${Ns}] ${dtype} part ${i}: c[${idx}] = ${got[idx]}, expected ${want}`);
        break;
      }
    }
  });
  [a, ...parts.map((p) => p.b), ...biases.filter(Boolean), ...outs].forEach((x) => x.dispose());
  return parts.length;
}

function main() {
  const seed = Number(process.argv[2] ?? 1);
  const r = rng(seed);
  const failures = [];
  let checked = 0;
  for (const [M, K, N] of SHAPES)
    for (const transA of [false, true])
      for (const transB of [false, true])
        for (const dtype of DTYPES)
          checked += check(r, failures, { batch: 1, M, K, N, transA, transB, dtype, bBatched: false });
  // A stored [K, M] (transA): weight-gradient shapes dW = dYᵀ·X, K = tokens crossing KC
  for (const [M, K, N] of [[45, 1100, 37], [1, 300, 70], [15, 1, 29], [29, 2, 1]])
    for (const transB of [false, true])
      checked += check(r, failures, { batch: 1, M, K, N, transA: true, transB, dtype: 'float32', bBatched: false });
  // batched: B shared (2-D) and B per batch entry; small-M and blocked paths
  for (const [M, K, N] of [[5, 9, 11], [20, 9, 11]])
    for (const transA of [false, true])
      for (const transB of [false, true])
        for (const bBatched of [false, true])
          for (const dtype of ['float32', 'bfloat16'])
            checked += check(r, failures, { batch: 3, M, K, N, transA, transB, dtype, bBatched });
  for (const group of GROUPS) for (const dtype of DTYPES) checked += checkGroup(r, failures, group, dtype);
  const info = runtimeInfo();
  process.stdout.write(JSON.stringify({ isa: info.cpuIsa, threads: info.threads, seed, checked, failures }) + '\n');
}

main();
