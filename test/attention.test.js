// Attention, rotary embedding, row scatter/gather and GELU against float64 references.
import test from 'ava';
import { Tensor, ops } from '../dist/index.js';
import { checkAttention } from './attention-helpers.js';
import { freshSeed, randomArray, maxAbsDiff } from './helpers.js';

const check = (t, c) => checkAttention({ Tensor, ops }, t, c);

test('non-causal single sequence, odd sizes, GQA', (t) => {
  // Sizes cross the kernel's blocks: 64 rows per work item, 128 keys per block.
  for (const [T, Hq, Hkv, D] of [[1, 1, 1, 16], [7, 4, 2, 16], [65, 14, 2, 64], [130, 2, 2, 80], [259, 3, 1, 80]]) {
    check(t, { lensQ: [T], lensK: [T], Hq, Hkv, D, causal: false, label: `T=${T} H=${Hq}/${Hkv} D=${D}` });
  }
});

test('causal prefill, chunked prefill against a longer cache, and decode', (t) => {
  check(t, { lensQ: [65], lensK: [65], Hq: 14, Hkv: 2, D: 64, causal: true, label: 'causal prefill 65' });
  check(t, { lensQ: [301], lensK: [301], Hq: 14, Hkv: 2, D: 64, causal: true, label: 'causal prefill 301' });
  check(t, { lensQ: [40], lensK: [300], Hq: 7, Hkv: 1, D: 64, causal: true, label: 'chunk 40 over 300' });
  check(t, { lensQ: [17], lensK: [130], Hq: 4, Hkv: 2, D: 16, causal: true, label: 'chunk 17 over 130' });
  check(t, { lensQ: [1], lensK: [131], Hq: 14, Hkv: 2, D: 64, causal: true, label: 'decode over 131' });
  check(t, { lensQ: [1], lensK: [1], Hq: 14, Hkv: 2, D: 64, causal: true, label: 'decode over 1' });
  check(t, { lensQ: [2], lensK: [133], Hq: 14, Hkv: 2, D: 64, causal: true, label: 'two queries (14 lanes) over 133' });
  check(t, { lensQ: [1], lensK: [1031], Hq: 14, Hkv: 2, D: 64, causal: true, label: 'decode over 1031' });
});

test('packed variable-length sequences (vision windows), including length 1', (t) => {
  check(t, { lensQ: [64, 1, 37, 64, 12], lensK: [64, 1, 37, 64, 12], Hq: 2, Hkv: 2, D: 16, causal: false, label: 'packed windows' });
  check(t, { lensQ: [3, 9], lensK: [10, 9], Hq: 4, Hkv: 2, D: 16, causal: true, label: 'packed causal' });
});

test('attention errors name the argument', (t) => {
  const q = Tensor.zeros([4, 4, 16]), k = Tensor.zeros([4, 3, 16]);
  t.throws(() => ops.attention(q, k, k), { message: /multiple of kv heads/ });
  const k2 = Tensor.zeros([4, 2, 8]);
  t.throws(() => ops.attention(q, k2, k2), { message: /'k' head size 8/ });
  const kk = Tensor.zeros([4, 2, 16]);
  t.throws(() => ops.attention(q, kk, kk, { cuSeqlensQ: Int32Array.from([0, 5]), cuSeqlensK: Int32Array.from([0, 4]) }), { message: /'cuSeqlensQ' ends at 5/ });
  t.throws(() => ops.attention(q, kk, kk, { cuSeqlensQ: Int32Array.from([0, 3, 2, 4]), cuSeqlensK: Int32Array.from([0, 1, 2, 4]) }), { message: /decreases/ });
  t.throws(() => ops.attention(q, kk, kk, { cuSeqlensQ: Int32Array.from([0, 4]) }), { message: /both/ });
});

test('rope matches rotate-half in float64, in place and not', (t) => {
  for (const [T, H, D] of [[1, 1, 2], [7, 3, 16], [33, 14, 64]]) {
    const seed = freshSeed();
    const xa = randomArray(T * H * D, seed), ang = randomArray(T * D / 2, seed + 1, -5, 5);
    const cos = Float32Array.from(ang, Math.cos), sin = Float32Array.from(ang, Math.sin);
    const ref = new Float64Array(T * H * D), half = D / 2;
    for (let p = 0; p < T; p++) for (let h = 0; h < H; h++) for (let i = 0; i < half; i++) {
      const b = (p * H + h) * D, x1 = xa[b + i], x2 = xa[b + i + half], c = cos[p * half + i], s = sin[p * half + i];
      ref[b + i] = x1 * c - x2 * s;
      ref[b + i + half] = x2 * c + x1 * s;
    }
    const x = Tensor.from(xa, [T, H, D]), ct = Tensor.from(cos, [T, half]), st = Tensor.from(sin, [T, half]);
    const out = ops.rope(x, ct, st);
    t.true(maxAbsDiff(out.toArray(), ref).worst < 1e-6, `rope ${T}x${H}x${D} seed ${seed}`);
    ops.rope(x, ct, st, { inPlace: true });
    t.true(maxAbsDiff(x.toArray(), ref).worst < 1e-6, `rope in place seed ${seed}`);
  }
  t.throws(() => ops.rope(Tensor.zeros([2, 1, 3]), Tensor.zeros([2, 1]), Tensor.zeros([2, 1])), { message: /must be even/ });
});

test('gatherRows, scatterRows and gelu', (t) => {
  const seed = freshSeed();
  const xa = randomArray(5 * 3, seed);
  const x = Tensor.from(xa, [5, 3]);
  const g = ops.gatherRows(x, Int32Array.from([4, 0, 4]));
  t.deepEqual(Array.from(g.toArray()), [...xa.slice(12, 15), ...xa.slice(0, 3), ...xa.slice(12, 15)]);
  const dst = Tensor.full([4, 3], NaN);
  ops.scatterRows(dst, Int32Array.from([3, 1, 0, 2]), Tensor.from(Float32Array.from({ length: 12 }, (_, i) => i), [4, 3]));
  t.deepEqual(Array.from(dst.toArray()), [6, 7, 8, 3, 4, 5, 9, 10, 11, 0, 1, 2]);
  t.throws(() => ops.scatterRows(dst, Int32Array.from([4]), Tensor.zeros([1, 3])), { message: /'idx'\[0\] = 4/ });
  t.throws(() => ops.gatherRows(x, Int32Array.from([5])), { message: /outside the table/ });
  // GELU against erf computed in float64 by a series (|x| <= 6)
  const erf = (z) => { let s = 0, term = z; for (let n = 0; n < 200; n++) { s += term / (2 * n + 1); term *= -z * z / (n + 1); } return 2 / Math.sqrt(Math.PI) * s; };
  const ga = randomArray(101, seed + 3, -6, 6);
  const ref = Array.from(ga, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
  t.true(maxAbsDiff(ops.gelu(Tensor.from(ga, [101])).toArray(), ref).worst < 2e-6);
});
