// GEMM checks against a float64 reference, shared by test/gemm.test.js and its child processes.
import { Tensor, ops } from '../dist/index.js';
import { freshSeed, randomArray } from './helpers.js';

/** Checks one product; returns an error string or ''. */
export function checkGemm({ batch = 1, M, K, N, transB, dtype, bias, alpha = 1, beta = 0, sharedB = true, seed }) {
  const a = randomArray(batch * M * K, seed);
  const bCount = sharedB ? 1 : batch;
  const bT = Tensor.from(randomArray(bCount * K * N, seed + 1), sharedB ? (transB ? [N, K] : [K, N]) : (transB ? [batch, N, K] : [batch, K, N]));
  const bW = dtype === 'float32' ? bT : ops.cast(bT, dtype);
  const b = bW.toArray(); // the rounded weights the kernel really sees
  const biasArr = bias ? randomArray(N, seed + 2) : null;
  const c0 = beta === 0 ? new Float32Array(batch * M * N).fill(NaN) : randomArray(batch * M * N, seed + 3);
  const out = Tensor.from(c0.slice(), [batch, M, N]);
  ops.matmul(Tensor.from(a, [batch, M, K]), bW, { transB, alpha, beta, out, bias: biasArr ? Tensor.from(biasArr, [N]) : undefined });
  const got = out.toArray();
  for (let p = 0; p < batch; p++) {
    const bo = sharedB ? 0 : p * K * N;
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let s = 0, bound = 0;
      for (let k = 0; k < K; k++) {
        const x = a[(p * M + i) * K + k] * b[bo + (transB ? j * K + k : k * N + j)];
        s += x; bound += Math.abs(x);
      }
      const idx = (p * M + i) * N + j;
      const want = alpha * s + (beta === 0 ? 0 : beta * c0[idx]) + (biasArr ? biasArr[j] : 0);
      const tol = 1e-5 * (Math.abs(alpha) * bound + Math.abs(beta * (beta === 0 ? 0 : c0[idx])) + 1);
      if (!(Math.abs(got[idx] - want) <= tol)) {
        return `batch ${batch} ${M}x${K}x${N} ${dtype} transB=${transB} bias=${!!bias} alpha=${alpha} beta=${beta} seed ${seed}: C[${p},${i},${j}] = ${got[idx]}, expected ${want}`;
      }
    }
  }
  return '';
}

export const shapes = [[1, 1, 1], [1, 7, 3], [2, 9, 17], [4, 33, 70], [5, 17, 33], [13, 129, 67], [67, 300, 257], [97, 520, 130]];

export function runAll(seed) {
  const errors = [];
  for (const [M, K, N] of shapes) {
    for (const transB of [false, true]) {
      for (const dtype of ['float32', 'bfloat16', 'float16']) {
        const e = checkGemm({ M, K, N, transB, dtype, bias: (M + N) % 2 === 0, seed: seed++ });
        if (e) errors.push(e);
      }
    }
  }
  for (const [alpha, beta] of [[0.5, 0], [1, 1], [2, -0.5]]) {
    const e = checkGemm({ M: 7, K: 300, N: 33, transB: true, dtype: 'bfloat16', alpha, beta, bias: true, seed: seed++ });
    if (e) errors.push(e);
  }
  for (const sharedB of [true, false]) {
    const e = checkGemm({ batch: 3, M: 5, K: 9, N: 11, transB: sharedB, dtype: 'float32', sharedB, seed: seed++ });
    if (e) errors.push(e);
  }
  errors.push(...['K=0'].map(() => {
    const out = Tensor.full([2, 3], NaN);
    ops.matmul(Tensor.zeros([2, 0]), Tensor.zeros([0, 3]), { out, bias: Tensor.full([3], 1) });
    return out.toArray().every((x) => x === 1) ? '' : 'K = 0 with bias must give the bias';
  }).filter(Boolean));
  return errors;
}

