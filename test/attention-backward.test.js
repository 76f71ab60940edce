// attentionBackward: dq, dk, dv of L = Σ dout ⊙ attention(q, k, v) against float64 central finite
// differences of a float64 reference attention on tiny odd shapes, and against a float64
// analytic backward on shapes that cross the kernel's blocks (64 query rows, 128 keys).
// test/attention-backward-threads.test.js runs the large cases again with 6 threads.
import test from 'ava';
import { Tensor, ops } from '../dist/index.js';
import { native } from '../dist/native.js';
import { checkAttentionBackward, largeBackwardCases } from './attention-helpers.js';

const check = (t, c) => checkAttentionBackward({ Tensor, ops, native }, t, c);

test('finite differences: one sequence, odd sizes, causal and not, GQA', (t) => {
  const fd = (c) => check(t, { ...c, reference: 'fd' });
  fd({ lensQ: [1], lensK: [1], Hq: 1, Hkv: 1, D: 2, label: 'size 1' });
  fd({ lensQ: [3], lensK: [3], Hq: 2, Hkv: 1, D: 6, causal: true, label: 'causal, GQA 2/1' });
  fd({ lensQ: [7], lensK: [13], Hq: 4, Hkv: 2, D: 10, causal: true, label: 'causal Tq < Tk (bottom right), GQA 4/2' });
  fd({ lensQ: [13], lensK: [7], Hq: 2, Hkv: 2, D: 6, label: 'non-causal Tq > Tk' });
  fd({ lensQ: [5], lensK: [3], Hq: 2, Hkv: 1, D: 2, causal: true, label: 'causal Tq > Tk: the first rows see no key' });
  fd({ lensQ: [7], lensK: [7], Hq: 3, Hkv: 3, D: 5, causal: true, scale: 0.3, label: 'scale 0.3' });
});

test('finite differences: packed variable-length sequences', (t) => {
  const fd = (c) => check(t, { ...c, packed: true, reference: 'fd' });
  fd({ lensQ: [3, 1, 5], lensK: [3, 1, 5], Hq: 2, Hkv: 2, D: 6, label: 'windows' });
  fd({ lensQ: [3, 1, 5], lensK: [4, 1, 7], Hq: 4, Hkv: 2, D: 2, causal: true, label: 'causal chunks over longer caches' });
  fd({ lensQ: [2, 3, 0], lensK: [0, 5, 2], Hq: 2, Hkv: 1, D: 6, label: 'a sequence without keys, one without queries' });
});

test('analytic float64 backward: shapes across the blocks', (t) => {
  for (const c of largeBackwardCases) check(t, { ...c, reference: 'analytic' });
});

test('attentionBackward errors name the tensor', (t) => {
  const q = Tensor.zeros([4, 2, 8]), k = Tensor.zeros([5, 1, 8]), lse = Tensor.zeros([2, 4]);
  const back = (over = {}) => {
    const a = { q, k, v: k, out: q, lse, dout: q, ...over };
    return ops.attentionBackward(a.q, a.k, a.v, a.out, a.lse, a.dout, over.opts);
  };
  t.notThrows(() => back());
  t.throws(() => back({ lse: Tensor.zeros([4, 2]) }), { message: /'lse'/ });
  t.throws(() => back({ dout: Tensor.zeros([4, 2, 7]) }), { message: /'dout'/ });
  t.throws(() => back({ out: Tensor.zeros([3, 2, 8]) }), { message: /'out'/ });
  t.throws(() => back({ v: Tensor.zeros([5, 1, 4]) }), { message: /'v'/ });
  const k3 = Tensor.zeros([5, 3, 8]);
  t.throws(() => back({ k: k3, v: k3 }), { message: /attentionBackward: query heads \(2\) must be a multiple of kv heads \(3\)/ });
  t.throws(() => back({ opts: { cuSeqlensQ: Int32Array.from([0, 4]) } }), { message: /both/ });
  t.throws(() => back({ opts: { cuSeqlensQ: Int32Array.from([0, 4]), cuSeqlensK: Int32Array.from([0, 4]) } }), { message: /'cuSeqlensK' ends at 4/ });
});
