// Float64 reference attention and the check both attention test files run (one at the default
// thread count, one with more threads than kv heads, where decode splits the keys).
import { freshSeed, randomArray, maxAbsDiff } from './helpers.js';

/** Naive float64 attention over packed sequences; returns { out, lse }. */
export function referenceAttention(q, k, v, { Tq, Tk, Hq, Hkv, D, cuQ, cuK, causal, scale }) {
  const g = Hq / Hkv;
  const out = new Float64Array(Tq * Hq * D), lse = new Float64Array(Hq * Tq);
  for (let s = 0; s + 1 < cuQ.length; s++) {
    const lenQ = cuQ[s + 1] - cuQ[s], lenK = cuK[s + 1] - cuK[s];
    for (let h = 0; h < Hq; h++) {
      const kh = Math.floor(h / g);
      for (let i = 0; i < lenQ; i++) {
        const qi = cuQ[s] + i;
        const scores = [];
        for (let j = 0; j < lenK; j++) {
          if (causal && j > i + lenK - lenQ) continue;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[(qi * Hq + h) * D + d] * k[((cuK[s] + j) * Hkv + kh) * D + d];
          scores.push([j, dot * scale]);
        }
        if (!scores.length) { lse[h * Tq + qi] = -Infinity; continue; }
        const m = Math.max(...scores.map((x) => x[1]));
        const sum = scores.reduce((a, x) => a + Math.exp(x[1] - m), 0);
        lse[h * Tq + qi] = m + Math.log(sum);
        for (const [j, sc] of scores) {
          const p = Math.exp(sc - m) / sum;
          for (let d = 0; d < D; d++) out[(qi * Hq + h) * D + d] += p * v[((cuK[s] + j) * Hkv + kh) * D + d];
        }
      }
    }
  }
  return { out, lse };
}

/** Runs ops.attention (from the addon the caller loaded) on fresh inputs, poisoned outputs. */
export function checkAttention({ Tensor, ops }, t, { lensQ, lensK, Hq, Hkv, D, causal, label }) {
  const seed = freshSeed();
  const cuQ = [0], cuK = [0];
  lensQ.forEach((l) => cuQ.push(cuQ.at(-1) + l));
  lensK.forEach((l) => cuK.push(cuK.at(-1) + l));
  const Tq = cuQ.at(-1), Tk = cuK.at(-1);
  const qa = randomArray(Tq * Hq * D, seed, -2, 2), ka = randomArray(Tk * Hkv * D, seed + 1, -2, 2), va = randomArray(Tk * Hkv * D, seed + 2);
  const q = Tensor.from(qa, [Tq, Hq, D]), k = Tensor.from(ka, [Tk, Hkv, D]), v = Tensor.from(va, [Tk, Hkv, D]);
  const lse = Tensor.full([Hq, Tq], NaN);
  const out = Tensor.full([Tq, Hq, D], NaN);  // poisoned: every element must be written
  const packed = lensQ.length > 1 || label.includes('packed');
  ops.attention(q, k, v, {
    causal, lse, out,
    ...(packed ? { cuSeqlensQ: Int32Array.from(cuQ), cuSeqlensK: Int32Array.from(cuK) } : {}),
  });
  const ref = referenceAttention(qa, ka, va, { Tq, Tk, Hq, Hkv, D, cuQ, cuK, causal, scale: 1 / Math.sqrt(D) });
  const o = maxAbsDiff(out.toArray(), ref.out);
  // lse: rows that see no key must be exactly -inf on both sides
  const got = lse.toArray();
  const finite = (a) => Array.from(a, (x) => (x === -Infinity ? 0 : x));
  const sameInf = ref.lse.every((x, i) => (x === -Infinity) === (got[i] === -Infinity));
  const l = sameInf ? maxAbsDiff(finite(got), finite(ref.lse)) : { worst: Infinity, at: -1 };
  const ok = o.worst <= 2e-5 && l.worst <= 2e-5;
  t.true(ok, `${label} seed ${seed}: out max err ${o.worst} at ${o.at}, lse max err ${l.worst} at ${l.at}`);
  [q, k, v, lse, out].forEach((x) => x.dispose());
}
