// Float64 reference attention (forward, analytic backward, finite differences) and the checks the
// attention test files run: the forward's at the default thread count and with more threads
// than kv heads (decode splits the keys), the backward's likewise.
import { createHash } from 'node:crypto';
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

/** Float64 gradients of L = Σ dout ⊙ attention(q, k, v), written out from the softmax's derivative. */
export function referenceAttentionBackward(q, k, v, dout, { Tq, Tk, Hq, Hkv, D, cuQ, cuK, causal, scale }) {
  const g = Hq / Hkv;
  const { out } = referenceAttention(q, k, v, { Tq, Tk, Hq, Hkv, D, cuQ, cuK, causal, scale });
  const dq = new Float64Array(Tq * Hq * D), dk = new Float64Array(Tk * Hkv * D), dv = new Float64Array(Tk * Hkv * D);
  for (let s = 0; s + 1 < cuQ.length; s++) {
    const lenQ = cuQ[s + 1] - cuQ[s], lenK = cuK[s + 1] - cuK[s];
    for (let h = 0; h < Hq; h++) {
      const kh = Math.floor(h / g);
      for (let i = 0; i < lenQ; i++) {
        const qAt = ((cuQ[s] + i) * Hq + h) * D;
        const keys = [];
        for (let j = 0; j < lenK; j++) if (!causal || j <= i + lenK - lenQ) keys.push(((cuK[s] + j) * Hkv + kh) * D);
        if (!keys.length) continue;
        const scores = keys.map((kAt) => { let dot = 0; for (let d = 0; d < D; d++) dot += q[qAt + d] * k[kAt + d]; return dot * scale; });
        const m = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - m)), sum = e.reduce((a, x) => a + x, 0);
        let delta = 0;  // Σ dO·O
        for (let d = 0; d < D; d++) delta += dout[qAt + d] * out[qAt + d];
        keys.forEach((kAt, n) => {
          const p = e[n] / sum;
          let dp = 0;
          for (let d = 0; d < D; d++) dp += dout[qAt + d] * v[kAt + d];
          const ds = p * (dp - delta);
          for (let d = 0; d < D; d++) {
            dq[qAt + d] += scale * ds * k[kAt + d];
            dk[kAt + d] += scale * ds * q[qAt + d];
            dv[kAt + d] += p * dout[qAt + d];
          }
        });
      }
    }
  }
  return { dq, dk, dv };
}

/** Float64 central finite differences of L = Σ dout ⊙ attention(q, k, v): { dq, dk, dv }. */
export function finiteDifferenceAttention(q, k, v, dout, dims, h = 1e-6) {
  const loss = (qq, kk, vv) => {
    const { out } = referenceAttention(qq, kk, vv, dims);
    let l = 0;
    for (let i = 0; i < out.length; i++) l += dout[i] * out[i];
    return l;
  };
  const x = { q: Float64Array.from(q), k: Float64Array.from(k), v: Float64Array.from(v) };
  const grad = (name) => {
    const a = x[name], gr = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) {
      const keep = a[i];
      a[i] = keep + h; const up = loss(x.q, x.k, x.v);
      a[i] = keep - h; const down = loss(x.q, x.k, x.v);
      a[i] = keep;
      gr[i] = (up - down) / (2 * h);
    }
    return gr;
  };
  return { dq: grad('q'), dk: grad('k'), dv: grad('v') };
}

/**
 * Runs attention's forward and then attentionBackward (outputs poisoned with NaN) on fresh
 * inputs; compares dq, dk, dv with finite differences (reference 'fd', tiny shapes) or with the
 * float64 analytic backward ('analytic'). Also checks the ops.attentionBackward wrapper gives the
 * same numbers. addon: { Tensor, ops, native } of the caller's import.
 */
export function checkAttentionBackward({ Tensor, ops, native }, t, { lensQ, lensK, Hq, Hkv, D, causal, packed, scale, reference, label }) {
  const seed = freshSeed();
  const cuQ = [0], cuK = [0];
  lensQ.forEach((l) => cuQ.push(cuQ.at(-1) + l));
  lensK.forEach((l) => cuK.push(cuK.at(-1) + l));
  const Tq = cuQ.at(-1), Tk = cuK.at(-1);
  const dims = { Tq, Tk, Hq, Hkv, D, cuQ, cuK, causal, scale: scale ?? 1 / Math.sqrt(D) };
  const qa = randomArray(Tq * Hq * D, seed, -2, 2), ka = randomArray(Tk * Hkv * D, seed + 1, -2, 2);
  const va = randomArray(Tk * Hkv * D, seed + 2), da = randomArray(Tq * Hq * D, seed + 3);
  const q = Tensor.from(qa, [Tq, Hq, D]), k = Tensor.from(ka, [Tk, Hkv, D]), v = Tensor.from(va, [Tk, Hkv, D]);
  const dout = Tensor.from(da, [Tq, Hq, D]);
  const opts = { causal, scale, ...(packed ? { cuSeqlensQ: Int32Array.from(cuQ), cuSeqlensK: Int32Array.from(cuK) } : {}) };
  const lse = Tensor.full([Hq, Tq], NaN);
  const out = ops.attention(q, k, v, { ...opts, lse });
  const dq = Tensor.full([Tq, Hq, D], NaN), dk = Tensor.full([Tk, Hkv, D], NaN), dv = Tensor.full([Tk, Hkv, D], NaN);
  native().attentionBackward(q.handle, k.handle, v.handle, out.handle, lse.handle, dout.handle, dq.handle, dk.handle, dv.handle,
    { causal: causal ?? false, scale, cuSeqlensQ: opts.cuSeqlensQ, cuSeqlensK: opts.cuSeqlensK });
  const ref = reference === 'fd' ? finiteDifferenceAttention(qa, ka, va, da, dims) : referenceAttentionBackward(qa, ka, va, da, dims);
  const got = { dq: dq.toArray(), dk: dk.toArray(), dv: dv.toArray() };
  const tag = `${label} [lensQ ${lensQ}, lensK ${lensK}, Hq ${Hq}, Hkv ${Hkv}, D ${D}${causal ? ', causal' : ''}] seed ${seed}`;
  for (const name of ['dq', 'dk', 'dv']) {
    const size = ref[name].reduce((a, x) => Math.max(a, Math.abs(x)), 0);
    const { worst, at } = maxAbsDiff(got[name], ref[name]);
    // float32 kernel against float64 (finite differences add ~1e-9): errors of a few 1e-7 relative.
    const tol = 5e-6 * Math.max(1, size);
    t.true(worst <= tol, `${tag}: ${name} max err ${worst} at ${at} (tolerance ${tol}, largest |${name}| ${size})`);
  }
  // The typed wrapper runs the same kernel: the same numbers.
  const wrapped = ops.attentionBackward(q, k, v, out, lse, dout, opts);
  for (const name of ['dq', 'dk', 'dv']) {
    const { worst, at } = maxAbsDiff(wrapped[name].toArray(), got[name]);
    t.is(worst, 0, `${tag}: ops.attentionBackward ${name} differs from the direct call at ${at}`);
    wrapped[name].dispose();
  }
  [q, k, v, dout, lse, out, dq, dk, dv].forEach((x) => x.dispose());
}

/**
 * Backward cases that cross the CPU kernel's blocks (64 query rows, 128 keys) and give its two
 * schedules work: with 2 or 6 threads the single sequences take the split schedule (fewer
 * (sequence, kv head) pairs than threads), the 20 windows the fused one.
 */
export const largeBackwardCases = [
  { lensQ: [200], lensK: [200], Hq: 4, Hkv: 2, D: 80, label: 'one sequence of 200' },
  { lensQ: [200], lensK: [200], Hq: 4, Hkv: 2, D: 80, causal: true, label: 'causal 200' },
  { lensQ: [70], lensK: [261], Hq: 2, Hkv: 1, D: 64, causal: true, label: 'causal chunk 70 over 261' },
  { lensQ: [130], lensK: [130], Hq: 3, Hkv: 3, D: 128, label: 'no GQA, head size 128' },
  { lensQ: [64, 64, 37, 1, 64, 50, 64, 64], lensK: [64, 64, 37, 1, 64, 50, 64, 64], Hq: 2, Hkv: 2, D: 80, packed: true, label: 'vision windows' },
  { lensQ: Array(20).fill(40), lensK: Array(20).fill(40), Hq: 2, Hkv: 2, D: 80, packed: true, label: '20 windows of 40' },
  { lensQ: [90, 3, 140], lensK: [90, 10, 140], Hq: 4, Hkv: 2, D: 16, causal: true, packed: true, label: 'packed causal' },
];

/**
 * SHA-1 of dq, dk, dv of a few backward cases on inputs drawn from `seed`: one causal sequence
 * with fewer kv heads than threads (split schedule at 6 threads) and packed windows (fused).
 */
export function attentionBackwardDigest({ Tensor, ops }, seed) {
  const hash = createHash('sha1');
  for (const [lens, Hq, Hkv, D, causal] of [[[300], 4, 2, 80, true], [[64, 64, 37, 1, 50, 64, 64, 64, 64], 4, 4, 80, false]]) {
    const cu = [0];
    lens.forEach((l) => cu.push(cu.at(-1) + l));
    const T = cu.at(-1);
    const q = Tensor.from(randomArray(T * Hq * D, seed, -2, 2), [T, Hq, D]);
    const k = Tensor.from(randomArray(T * Hkv * D, seed + 1, -2, 2), [T, Hkv, D]);
    const v = Tensor.from(randomArray(T * Hkv * D, seed + 2), [T, Hkv, D]);
    const dout = Tensor.from(randomArray(T * Hq * D, seed + 3), [T, Hq, D]);
    const opts = { causal, cuSeqlensQ: Int32Array.from(cu), cuSeqlensK: Int32Array.from(cu) };
    const lse = Tensor.empty([Hq, T]);
    const out = ops.attention(q, k, v, { ...opts, lse });
    const grads = ops.attentionBackward(q, k, v, out, lse, dout, opts);
    for (const x of [grads.dq, grads.dk, grads.dv]) hash.update(new Uint8Array(x.toArray().buffer));
    [q, k, v, dout, lse, out, grads.dq, grads.dk, grads.dv].forEach((x) => x.dispose());
  }
  return hash.digest('hex');
}
