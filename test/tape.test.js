// The autograd tape over the native ops: gradients of small composite functions against float64
// central finite differences of the same function computed with the ops (in float32, so the
// steps are large and the tolerances loose), tensors used twice, frozen inputs, and the rules
// (no in-place writes while recording, saved activations survive the forward's disposals).
import test from 'ava';
import { Tensor, disposeAll, ops } from '../dist/index.js';
import { Tape, noGrad } from '../dist/tape.js';
import { freshSeed, randomArray } from './helpers.js';

/** Σ r ⊙ f(params) computed with the ops, and its gradient by the tape. */
function lossAndGrads(f, params, r) {
  const tape = new Tape().watch(...params);
  const y = tape.run(() => f(...params));
  const value = y.toArray().reduce((s, v, i) => s + v * r[i], 0);
  const grads = new Map();
  tape.backward(y, Tensor.from(Float32Array.from(r), y.shape), (p, g) => grads.set(p, g.toArray()));
  return { value, grads };
}

/** Central differences of Σ r ⊙ f over every element of every param (float32 forward). */
function numericGrads(f, params, r, eps = 1e-2) {
  return params.map((p) => {
    const base = p.toArray();
    return Float64Array.from(base, (_, i) => {
      const at = (d) => {
        const x = Float32Array.from(base);
        x[i] += d;
        p.write(x);
        const y = noGrad(() => f(...params));
        const v = y.toArray().reduce((s, yv, k) => s + yv * r[k], 0);
        y.dispose();
        return v;
      };
      const g = (at(eps) - at(-eps)) / (2 * eps);
      p.write(base);
      return g;
    });
  });
}

function check(t, name, f, shapes, outSize, tol = 2e-2) {
  const seed = freshSeed();
  const params = shapes.map((s, i) => Tensor.from(randomArray(s.reduce((a, b) => a * b, 1), seed + i, -1, 1), s));
  const r = Array.from(randomArray(outSize, seed + 99, -1, 1));
  const { grads } = lossAndGrads(f, params, r);
  const num = numericGrads(f, params, r);
  params.forEach((p, k) => {
    const g = grads.get(p);
    t.truthy(g, `${name}: no gradient for input ${k}`);
    const worst = Math.max(...num[k].map((v, i) => Math.abs(v - g[i]) / (1 + Math.abs(v))));
    t.true(worst < tol, `${name} input ${k} (seed ${seed}): worst relative error ${worst}`);
  });
}

test('linear + rmsnorm + swiglu + residual add: tape gradients match finite differences', (t) => {
  const f = (x, w1, b1, w2, nw) => {
    const h = ops.rmsnorm(x, nw, 1e-6);
    const g = ops.linear(h, w1, b1);
    const u = ops.linear(h, w2);
    const s = ops.swiglu(g, u);
    const y = ops.add(x, s);  // x used twice (norm input and residual)
    disposeAll(h, g, u, s);  // the tape keeps what backward needs
    return y;
  };
  check(t, 'mlp block', f, [[3, 5], [5, 5], [5], [5, 5], [5]], 15);
});

test('attention (causal, packed, GQA) with rope and reshape: tape gradients match finite differences', (t) => {
  const T = 5, Hq = 2, Hkv = 1, D = 4;
  const seed = freshSeed();
  const cos = Tensor.from(randomArray(T * D / 2, seed, -1, 1), [T, D / 2]);
  const sin = Tensor.from(randomArray(T * D / 2, seed + 1, -1, 1), [T, D / 2]);
  const cu = new Int32Array([0, 2, 5]);
  const f = (q, k, v) => {
    const q3 = ops.reshape(q, [T, Hq, D]);
    const k3 = ops.reshape(k, [T, Hkv, D]);
    const v3 = ops.reshape(v, [T, Hkv, D]);
    const qr = ops.rope(q3, cos, sin);
    const kr = ops.rope(k3, cos, sin);
    const a = ops.attention(qr, kr, v3, { causal: true, cuSeqlensQ: cu, cuSeqlensK: cu });
    const y = ops.gelu(a);
    disposeAll(q3, k3, v3, qr, kr, a);
    return y;
  };
  check(t, 'attention', f, [[T, Hq * D], [T, Hkv * D], [T, Hkv * D]], T * Hq * D);
});

test('embedding and replaceRows route gradients to the table and to the replacing rows', (t) => {
  const ids = Tensor.from(new Int32Array([2, 0, 2, 1]), [4]);
  const f = (table, img) => {
    const e = ops.embedding(ids, table);
    const y = ops.replaceRows(e, new Int32Array([1]), img);
    e.dispose();
    return y;
  };
  check(t, 'embedding', f, [[3, 4], [1, 4]], 16);
});

test('frozen inputs get no gradient and record nothing; in-place writes are refused while recording', (t) => {
  const w = Tensor.from(randomArray(6, 1), [2, 3]);
  const x = Tensor.from(randomArray(6, 2), [2, 3]);
  const tape = new Tape();  // nothing watched
  tape.run(() => {
    ops.linear(x, w).dispose();
    t.is(tape.length, 0);
    const x3 = Tensor.from(randomArray(8, 3), [2, 1, 4]), cs = Tensor.from(randomArray(4, 4), [2, 2]);
    t.throws(() => ops.rope(x3, cs, cs, { inPlace: true }), { message: /not allowed while a gradient tape records/ });
    t.throws(() => ops.matmul(x, w, { transB: true, out: Tensor.empty([2, 2]) }), { message: /matmul: 'out'/ });
  });
  tape.watch(w);
  const y = tape.run(() => ops.linear(x, w));
  t.is(tape.length, 1);
  const got = [];
  tape.backward(y, Tensor.full([2, 2], 1), (p) => got.push(p));
  t.deepEqual(got, [w]);
  t.is(tape.length, 0);
});
