// tokenLogprobs / tokenLogprobsBackward (the chunked cross-entropy building block) against a
// float64 reference written here: forward values, and gradients against float64 central
// finite differences of that reference. Fresh random inputs (seed in every message), odd tiny
// shapes, chunk sizes that split the rows unevenly, outputs poisoned with NaN beforehand.
import test from 'ava';
import { Tensor, ops } from '../dist/index.js';
import { native } from '../dist/native.js';
import { Tape } from '../dist/tape.js';
import { freshSeed, rng, roundBf16 } from './helpers.js';

/** float64 reference: z = hidden·Wᵀ/τ (or hidden/τ without W); logp, lse, entropy per row. */
function reference(hidden, W, targets, N, V, H, tau) {
  const logp = new Float64Array(N), lse = new Float64Array(N), entropy = new Float64Array(N);
  const z = new Float64Array(V);
  for (let r = 0; r < N; r++) {
    for (let v = 0; v < V; v++) {
      let s = 0;
      if (W) for (let k = 0; k < H; k++) s += hidden[r * H + k] * W[v * H + k];
      else s = hidden[r * V + v];
      z[v] = s / tau;
    }
    let m = -Infinity;
    for (let v = 0; v < V; v++) m = Math.max(m, z[v]);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(z[v] - m);
    lse[r] = m + Math.log(sum);
    logp[r] = z[targets[r]] - lse[r];
    let e = 0;
    for (let v = 0; v < V; v++) { const lp = z[v] - lse[r]; e -= Math.exp(lp) * lp; }
    entropy[r] = e;
  }
  return { logp, lse, entropy };
}

/** f = Σ_r c_r·logp_r; central differences of f with respect to every entry of `x` (float64). */
function finiteDiff(x, f, h = 1e-6) {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + h; const up = f();
    x[i] = keep - h; const down = f();
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

function closeAll(t, what, actual, expected, atol, rtol) {
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      t.fail(`${what}[${i}]: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
      return false;
    }
  }
  return true;
}

const poisoned = (shape) => Tensor.full(shape, NaN);

/** One random problem: inputs as float32 (and float64 copies of exactly those values). */
function problem(seed, N, V, H, { withHead = true, bf16 = false } = {}) {
  const r = rng(seed);
  const hidden = new Float32Array(withHead ? N * H : N * V).map(() => r.uniform(-2, 2));
  let W = null;
  if (withHead) {
    W = new Float32Array(V * H).map(() => r.uniform(-1, 1));
    if (bf16) W = W.map(roundBf16);  // the values the kernel will see
  }
  const targets = new Int32Array(N).map(() => r.int(V));
  const dlogp = new Float32Array(N).map(() => (r.next() < 0.25 ? 0 : r.uniform(-1.5, 1.5)));
  return { hidden, W, targets, dlogp };
}

function tensors(p, N, V, H, bf16) {
  const hidden = Tensor.from(p.hidden, p.W ? [N, H] : [N, V]);
  const W = p.W ? (bf16 ? ops.cast(Tensor.from(p.W, [V, H]), 'bfloat16') : Tensor.from(p.W, [V, H])) : null;
  const targets = Tensor.from(p.targets, [N]);
  return { hidden, W, targets };
}

const shapes = [];
for (const N of [1, 3, 7]) for (const V of [1, 5, 37]) for (const H of [1, 4, 9]) shapes.push([N, V, H]);

for (const withHead of [true, false]) {
  test(`tokenLogprobs forward matches float64 (${withHead ? 'hidden · lmHead' : 'logits'}; N 1/3/7, V 1/5/37, H 1/4/9, τ 1 and 0.7, uneven chunks)`, (t) => {
    for (const [N, V, H] of withHead ? shapes : shapes.filter((s) => s[2] === 1)) {
      for (const tau of [1, 0.7]) {
        for (const chunkRows of [0, 1, 2, 5]) {
          const seed = freshSeed();
          const tag = `N ${N} V ${V} H ${H} τ ${tau} chunk ${chunkRows} seed ${seed}`;
          const p = problem(seed, N, V, H, { withHead });
          const x = tensors(p, N, V, H, false);
          const ref = reference(p.hidden, p.W, p.targets, N, V, H, tau);
          const logp = poisoned([N]), lse = poisoned([N]), ent = poisoned([N]);
          native().tokenLogprobs(x.hidden.handle, x.W?.handle ?? null, x.targets.handle, logp.handle, lse.handle, ent.handle,
            { temperature: tau, chunkRows });
          if (!closeAll(t, `logp ${tag}`, logp.toArray(), ref.logp, 2e-5, 1e-5)) return;
          if (!closeAll(t, `lse ${tag}`, lse.toArray(), ref.lse, 2e-5, 1e-5)) return;
          if (!closeAll(t, `entropy ${tag}`, ent.toArray(), ref.entropy, 2e-5, 1e-4)) return;
        }
      }
    }
    t.pass();
  });
}

test('tokenLogprobs (ops wrapper): bf16 lmHead matches float64 on the rounded weights; entropy optional', (t) => {
  for (const [N, V, H] of [[7, 37, 9], [3, 5, 4], [1, 1, 1]]) {
    const seed = freshSeed();
    const p = problem(seed, N, V, H, { bf16: true });
    const x = tensors(p, N, V, H, true);
    t.is(x.W.dtype, 'bfloat16');
    const ref = reference(p.hidden, p.W, p.targets, N, V, H, 0.7);
    const out = ops.tokenLogprobs(x.hidden, x.W, x.targets, { temperature: 0.7, entropy: true, chunkRows: 2 });
    closeAll(t, `logp bf16 N ${N} V ${V} H ${H} seed ${seed}`, out.logp.toArray(), ref.logp, 2e-5, 1e-5);
    closeAll(t, `entropy bf16 seed ${seed}`, out.entropy.toArray(), ref.entropy, 2e-5, 1e-4);
    const plain = ops.tokenLogprobs(x.hidden, x.W, x.targets, { temperature: 0.7 });
    t.is(plain.entropy, undefined);
    t.deepEqual(plain.logp.toArray(), out.logp.toArray(), `chunking does not change a row's value (seed ${seed})`);
  }
});

for (const bf16 of [false, true]) {
  test(`tokenLogprobsBackward: dhidden and dLmHead (accumulated) match float64 finite differences${bf16 ? ', bf16 lmHead' : ''}`, (t) => {
    for (const [N, V, H] of shapes) {
      for (const tau of [1, 0.7]) {
        const chunkRows = [0, 1, 2, 3][(N + V + H) % 4];
        const seed = freshSeed();
        const tag = `N ${N} V ${V} H ${H} τ ${tau} chunk ${chunkRows} seed ${seed}`;
        const p = problem(seed, N, V, H, { bf16 });
        const x = tensors(p, N, V, H, bf16);
        const h64 = Float64Array.from(p.hidden), W64 = Float64Array.from(p.W);
        const f = () => {
          const { logp } = reference(h64, W64, p.targets, N, V, H, tau);
          let s = 0;
          for (let r = 0; r < N; r++) s += p.dlogp[r] * logp[r];
          return s;
        };
        const gHidden = finiteDiff(h64, f), gW = finiteDiff(W64, f);
        const fwd = ops.tokenLogprobs(x.hidden, x.W, x.targets, { temperature: tau, chunkRows });
        const dlogp = Tensor.from(p.dlogp, [N]);
        const dx = poisoned([N, H]);
        const start = new Float32Array(V * H).map((_, i) => Math.sin(i + seed));  // accumulation starts here
        const dW = Tensor.from(start, [V, H]);
        native().tokenLogprobsBackward(x.hidden.handle, x.W.handle, x.targets.handle, fwd.lse.handle, dlogp.handle, dx.handle,
          dW.handle, { temperature: tau, chunkRows });
        if (!closeAll(t, `dhidden ${tag}`, dx.toArray(), gHidden, 1e-5, 1e-3)) return;
        const added = dW.toArray().map((v, i) => v - start[i]);
        if (!closeAll(t, `dLmHead increment ${tag}`, added, gW, 1e-5, 1e-3)) return;
        const dxArr = dx.toArray();
        for (let r = 0; r < N; r++) {
          if (p.dlogp[r] !== 0) continue;
          for (let k = 0; k < H; k++) if (dxArr[r * H + k] !== 0) { t.fail(`row ${r} has dlogp 0 but dhidden ${dxArr[r * H + k]} (${tag})`); return; }
        }
        // The ops wrapper gives the same dhidden.
        const viaOps = ops.tokenLogprobsBackward(x.hidden, x.W, x.targets, fwd.lse, dlogp, { temperature: tau, chunkRows });
        t.deepEqual(viaOps.toArray(), dxArr, tag);
      }
    }
  });
}

test('tokenLogprobsBackward without lmHead: dlogits match float64 finite differences', (t) => {
  for (const [N, V] of [[1, 1], [3, 5], [7, 37], [2, 300]]) {
    for (const tau of [1, 0.7]) {
      const seed = freshSeed();
      const tag = `N ${N} V ${V} τ ${tau} seed ${seed}`;
      const p = problem(seed, N, V, 0, { withHead: false });
      const x = tensors(p, N, V, 0, false);
      const h64 = Float64Array.from(p.hidden);
      const f = () => {
        const { logp } = reference(h64, null, p.targets, N, V, 0, tau);
        let s = 0;
        for (let r = 0; r < N; r++) s += p.dlogp[r] * logp[r];
        return s;
      };
      const g = finiteDiff(h64, f);
      const fwd = ops.tokenLogprobs(x.hidden, null, x.targets, { temperature: tau });
      const dx = poisoned([N, V]);
      native().tokenLogprobsBackward(x.hidden.handle, null, x.targets.handle, fwd.lse.handle, Tensor.from(p.dlogp, [N]).handle, dx.handle,
        null, { temperature: tau });
      if (!closeAll(t, `dlogits ${tag}`, dx.toArray(), g, 1e-6, 1e-3)) return;
    }
  }
  t.pass();
});

test('tokenLogprobs: a dLmHead-only gradient is the sum over chunks, whatever the chunk size', (t) => {
  const [N, V, H] = [11, 29, 6];
  const seed = freshSeed();
  const p = problem(seed, N, V, H);
  const x = tensors(p, N, V, H, false);
  const fwd = ops.tokenLogprobs(x.hidden, x.W, x.targets);
  const dlogp = Tensor.from(p.dlogp, [N]);
  const results = [1, 4, 11, 0].map((chunkRows) => {
    const dW = Tensor.zeros([V, H]);
    ops.tokenLogprobsBackward(x.hidden, x.W, x.targets, fwd.lse, dlogp, { chunkRows, dLmHead: dW });
    return dW.toArray();
  });
  for (const r of results.slice(1)) closeAll(t, `dLmHead by chunk (seed ${seed})`, r, results[0], 1e-6, 1e-5);
  t.pass();
});

test('tokenLogprobs with grad (the fused backward) equals the forward then the backward: logp, dhidden, dLmHead (fp32 and bf16 head, uneven chunks, size 1)', (t) => {
  for (const [N, V, H] of [[1, 1, 1], [7, 37, 9], [13, 29, 6]]) {
    for (const bf16 of [false, true]) {
      for (const chunkRows of [0, 1, 5]) {
        for (const tau of [1, 0.7]) {
          const seed = freshSeed();
          const tag = `N ${N} V ${V} H ${H} bf16 ${bf16} chunk ${chunkRows} τ ${tau} seed ${seed}`;
          const p = problem(seed, N, V, H, { bf16 });
          const x = tensors(p, N, V, H, bf16);
          const dlogp = Tensor.from(p.dlogp, [N]);
          // Reference: the separate passes (each checked against float64 above and below).
          const fwd = ops.tokenLogprobs(x.hidden, x.W, x.targets, { temperature: tau, chunkRows });
          const dW = Tensor.zeros([V, H]);
          const dx = ops.tokenLogprobsBackward(x.hidden, x.W, x.targets, fwd.lse, dlogp, { temperature: tau, chunkRows, dLmHead: dW });
          // Fused, into poisoned outputs where the kernel writes (dLmHead accumulates: starts at zero).
          const logp = poisoned([N]), lse = poisoned([N]), dhidden = poisoned([N, H]);
          const dW2 = Tensor.zeros([V, H]);
          native().tokenLogprobs(x.hidden.handle, x.W.handle, x.targets.handle, logp.handle, lse.handle, null, { temperature: tau, chunkRows },
            { dlogp: dlogp.handle, dx: dhidden.handle, dLmHead: dW2.handle });
          if (!closeAll(t, `logp ${tag}`, logp.toArray(), fwd.logp.toArray(), 0, 0)) return;
          if (!closeAll(t, `dhidden ${tag}`, dhidden.toArray(), dx.toArray(), 1e-6, 1e-6)) return;
          if (!closeAll(t, `dLmHead ${tag}`, dW2.toArray(), dW.toArray(), 1e-6, 1e-6)) return;
          // The ops wrapper: same numbers, dhidden returned.
          const w = ops.tokenLogprobs(x.hidden, x.W, x.targets, { temperature: tau, chunkRows, grad: { dlogp } });
          if (!closeAll(t, `wrapper dhidden ${tag}`, w.dhidden.toArray(), dx.toArray(), 1e-6, 1e-6)) return;
        }
      }
    }
  }
  t.pass();
});

test('tokenLogprobs with grad: refused without lmHead, with bad gradient tensors, and while a tape records', (t) => {
  const hidden = Tensor.zeros([3, 4]), W = Tensor.zeros([5, 4]);
  const ok = Tensor.from(new Int32Array([0, 1, 2]), [3]);
  t.throws(() => ops.tokenLogprobs(Tensor.zeros([3, 5]), null, ok, { grad: { dlogp: Tensor.zeros([3]) } }), { message: /'grad' needs 'lmHead'/ });
  t.throws(() => ops.tokenLogprobs(hidden, W, ok, { grad: { dlogp: Tensor.zeros([2]) } }), { message: /'dlogp'/ });
  t.throws(() => ops.tokenLogprobs(hidden, W, ok, { grad: { dlogp: Tensor.zeros([3]), dLmHead: Tensor.zeros([4, 5]) } }), { message: /'dLmHead'/ });
  const tape = new Tape().watch(W);
  t.throws(() => tape.run(() => ops.tokenLogprobs(hidden, W, ok, { grad: { dlogp: Tensor.zeros([3]) } })), { message: /cannot run while a tape records/ });
});

test('tokenLogprobs: bad inputs get errors naming the tensor or option', (t) => {
  const hidden = Tensor.zeros([3, 4]);
  const W = Tensor.zeros([5, 4]);
  const targets = Tensor.from(new Int32Array([0, 4, 5]), [3]);
  t.throws(() => ops.tokenLogprobs(hidden, W, targets), { message: /'targets'\[2\] = 5 is outside the vocabulary of 5/ });
  const ok = Tensor.from(new Int32Array([0, 1, 2]), [3]);
  t.throws(() => ops.tokenLogprobs(hidden, Tensor.zeros([5, 3]), ok), { message: /'lmHead' must be \[vocab, 4\]/ });
  t.throws(() => ops.tokenLogprobs(hidden, W, Tensor.from(new Int32Array([0, 1]), [2])), { message: /targets/ });
  t.throws(() => ops.tokenLogprobs(hidden, W, ok, { temperature: 0 }), { message: /'temperature' must be > 0/ });
  t.throws(() => ops.tokenLogprobs(hidden, W, ok, { chunkRows: 1.5 }), { message: /'chunkRows'/ });
  t.throws(() => ops.tokenLogprobs(hidden, W, Tensor.from(new Float32Array(3), [3])), { message: /targets/ });
  const fwd = ops.tokenLogprobs(hidden, W, ok);
  t.throws(() => ops.tokenLogprobsBackward(hidden, W, ok, fwd.lse, Tensor.zeros([3]), { dLmHead: Tensor.zeros([4, 5]) }), { message: /'dLmHead'/ });
  t.throws(() => ops.tokenLogprobsBackward(hidden, null, ok, fwd.lse, Tensor.zeros([3]), { dLmHead: Tensor.zeros([5, 4]) }), { message: /'dLmHead' needs 'lmHead'/ });
  t.throws(() => ops.tokenLogprobsBackward(hidden, W, ok, Tensor.zeros([2]), Tensor.zeros([3])), { message: /'lse'/ });
});
