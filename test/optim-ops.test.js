// The optimiser ops (ops.adamwStep, ops.sumOfSquares) against float64 references of the
// formulas computed here: several steps from random state (model copies poisoned first), odd
// sizes including 1 and sizes that cross the native chunk size, per-tensor weight decay, a
// gradient scale, bf16 and f32 model copies, and the errors a bad call gets. When
// /usr/bin/python3 has torch, also against torch.optim.AdamW itself.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { Tensor, ops } from '../dist/index.js';
import { assertClose, freshSeed, randomArray, roundBf16 } from './helpers.js';
import { adamwReference } from './optim-helpers.js';

const CHUNK = 1 << 16;  // kOptimChunkElements in gmai/ops/optim.h
const SIZES = [1, 7, 17, 1000, CHUNK + 3, 2 * CHUNK + 1];

/** Runs fn(keep), then disposes every tensor passed through keep(). */
function scoped(fn) {
  const made = [];
  try {
    return fn((x) => (made.push(x), x));
  } finally {
    for (const x of made) x.dispose();
  }
}

function bf16Bits(x) {
  const f = new Float32Array([x]);
  return new Uint32Array(f.buffer)[0] >>> 16;
}

test('adamwStep matches a float64 AdamW over several steps (odd sizes, per-tensor decay, gradScale, bf16/f32 model copies)', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const made = [];
  const keep = (x) => (made.push(x), x);
  try {
    const n = SIZES.length;
    const weightDecay = SIZES.map((_, i) => (i % 3 === 0 ? 0 : 0.1 * i));
    const hyper = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8 };
    // fp32 state: params and moments start random (second moments >= 0), as after earlier steps.
    const ref = SIZES.map((size, i) => ({
      p: Float64Array.from(randomArray(size, seed + 10 * i, -1, 1)),
      m: Float64Array.from(randomArray(size, seed + 10 * i + 1, -0.1, 0.1)),
      v: Float64Array.from(randomArray(size, seed + 10 * i + 2, 0, 0.01)),
    }));
    const params = ref.map((r, i) => keep(Tensor.from(Float32Array.from(r.p), [SIZES[i]])));
    const expAvg = ref.map((r, i) => keep(Tensor.from(Float32Array.from(r.m), [SIZES[i]])));
    const expAvgSq = ref.map((r, i) => keep(Tensor.from(Float32Array.from(r.v), [SIZES[i]])));
    // Model copies: bf16 for even tensors, f32 for odd ones but the last, none for the last.
    const model = SIZES.map((size, i) =>
      i === n - 1 ? undefined : keep(i % 2 === 0 ? ops.cast(keep(Tensor.full([size], NaN)), 'bfloat16') : Tensor.full([size], NaN)));
    for (let step = 1; step <= 4; step++) {
      const gradScale = step === 3 ? 0.37 : 1;
      const gradArrays = SIZES.map((size, i) => randomArray(size, seed + 1000 * step + i, -1, 1));
      // a few tiny gradients, where eps dominates the denominator
      for (const g of gradArrays) for (let j = 0; j < g.length; j += 5) g[j] *= 1e-9;
      const grads = gradArrays.map((g, i) => keep(Tensor.from(g, [SIZES[i]])));
      ops.adamwStep(params, grads, expAvg, expAvgSq, { ...hyper, weightDecay, step, gradScale }, model);
      ref.forEach((r, i) => adamwReference(r.p, gradArrays[i], r.m, r.v, { ...hyper, weightDecay: weightDecay[i], step, gradScale }));
      for (let i = 0; i < n; i++) {
        const what = `step ${step}, tensor ${i} (size ${SIZES[i]}), seed ${seed}`;
        assertClose(t, expAvg[i].toArray(), ref[i].m, { atol: 1e-7, rtol: 1e-5, what: `exp_avg ${what}` });
        assertClose(t, expAvgSq[i].toArray(), ref[i].v, { atol: 1e-9, rtol: 1e-5, what: `exp_avg_sq ${what}` });
        assertClose(t, params[i].toArray(), ref[i].p, { atol: 1e-6, rtol: 1e-5, what: `param ${what}` });
        const master = params[i].toArray();
        if (model[i]?.dtype === 'float32') t.deepEqual(model[i].toArray(), master, `f32 model copy ${what}`);
        if (model[i]?.dtype === 'bfloat16') {
          const bits = new Uint16Array(model[i].toBytes().buffer);
          const bad = bits.findIndex((b, j) => b !== bf16Bits(roundBf16(master[j])));
          t.is(bad, -1, `bf16 model copy ${what}: element ${bad} is ${bits[bad]?.toString(16)}, master ${master[bad]}`);
        }
      }
    }
  } finally {
    for (const x of made) x.dispose();
  }
});

test('adamwStep bf16 model copy rounds ties to even; lr 0 leaves masters and copies exact', (t) => scoped((keep) => {
  // Float32 values exactly halfway between two bf16 values: the low 16 bits are 0x8000.
  const halfway = new Uint32Array([0x3f808000, 0x3f818000, 0xbf808000, 0xbf818000, 0x00008000, 0x7f7f8000, 0x3f80ffff, 0x3f807fff]);
  const expected = [0x3f80, 0x3f82, 0xbf80, 0xbf82, 0x0000, 0x7f80, 0x3f81, 0x3f80];
  const master = new Float32Array(halfway.buffer);
  const p = keep(Tensor.from(master.slice(), [master.length]));
  const g = keep(Tensor.from(randomArray(master.length, 1), [master.length]));
  const m = keep(Tensor.zeros([master.length]));
  const v = keep(Tensor.zeros([master.length]));
  const w = keep(ops.cast(keep(Tensor.full([master.length], NaN)), 'bfloat16'));
  ops.adamwStep([p], [g], [m], [v], { lr: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: [0.1], step: 1 }, [w]);
  t.deepEqual(p.toArray(), master);
  t.deepEqual(Array.from(new Uint16Array(w.toBytes().buffer)), expected);
}));

test('adamwStep: an empty list and empty tensors are no-ops; modelWeights may be omitted', (t) => scoped((keep) => {
  ops.adamwStep([], [], [], [], { lr: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: [], step: 1 });
  const p = keep(Tensor.zeros([0]));
  const g = keep(Tensor.zeros([0]));
  const m = keep(Tensor.zeros([0]));
  const v = keep(Tensor.zeros([0]));
  ops.adamwStep([p], [g], [m], [v], { lr: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: [0], step: 1 });
  t.pass();
}));

test('adamwStep refuses bad calls with errors naming the tensor or option', (t) => {
  const made = [];
  const keep = (x) => (made.push(x), x);
  const f32 = (n) => keep(Tensor.zeros([n]));
  try {
    const [p, g, m, v] = [f32(5), f32(5), f32(5), f32(5)];
    const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: [0], step: 1 };
    const call = (over = {}, lists = {}, model) => () => ops.adamwStep(lists.p ?? [p], lists.g ?? [g], lists.m ?? [m], lists.v ?? [v], { ...hyper, ...over }, model);
    t.throws(call({}, { g: [f32(4)] }), { message: /'grads\[0\]' \[4\] and 'params\[0\]' \[5\] differ in size/ });
    t.throws(call({}, { g: [] }), { message: /'grads' has 0 tensors but 'params' has 1/ });
    t.throws(call({}, { m: [p] }), { message: /share memory/ });
    t.throws(call({}, { p: [p, p], g: [g, g], m: [m, f32(5)], v: [v, f32(5)] }, undefined), { message: /weightDecay/ });
    t.throws(call({ weightDecay: [0, 0] }, { p: [p, p], g: [g, g], m: [m, f32(5)], v: [v, f32(5)] }), { message: /'params\[[01]\]' and 'params\[[01]\]' share memory/ });
    t.throws(call({ step: 0 }), { message: /'step' is 0.*integer >= 1/ });
    t.throws(call({ step: 1.5 }), { message: /'step'/ });
    t.throws(call({ beta1: 1 }), { message: /'beta1'.*\[0, 1\)/ });
    t.throws(call({ lr: NaN }), { message: /'lr' must be a finite number/ });
    t.throws(call({ weightDecay: [-1] }), { message: /weightDecay\[0\]/ });
    const bf = keep(ops.cast(f32(5), 'bfloat16'));
    t.throws(call({}, { g: [bf] }), { message: /grads\[0\]/ });
    const f16 = keep(ops.cast(f32(5), 'float16'));
    t.throws(call({}, {}, [f16]), { message: /modelWeights\[0\]/ });
    t.throws(call({}, {}, [f32(6)]), { message: /'modelWeights\[0\]' \[6\] and 'params\[0\]' \[5\] differ in size/ });
    t.throws(call({}, {}, []), { message: /'modelWeights' has 0 entries/ });
    // the f32 model weight may be the master itself
    t.notThrows(call({}, {}, [p]));
  } finally {
    for (const x of made) x.dispose();
  }
});

test('sumOfSquares accumulates in float64 over a list of tensors (chunk boundaries, empty, NaN, Inf)', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const arrays = SIZES.map((n, i) => randomArray(n, seed + i, -3, 3));
  arrays[3][0] = 4096;  // a large value among small ones: float32 accumulation would lose the small ones
  const made = [];
  const keep = (x) => (made.push(x), x);
  const tensors = arrays.map((a) => keep(Tensor.from(a)));
  try {
    let ref = 0;
    for (const a of arrays) for (const x of a) ref += x * x;
    const got = ops.sumOfSquares(tensors);
    t.true(Math.abs(got - ref) <= 1e-10 * ref, `got ${got}, float64 reference ${ref}, seed ${seed}`);
    t.is(ops.sumOfSquares([]), 0);
    const empty = keep(Tensor.zeros([0]));
    t.is(ops.sumOfSquares([empty]), 0);
    const one = keep(Tensor.from(new Float32Array([3])));
    t.is(ops.sumOfSquares([one, empty]), 9);
    // 2^64 overflows float32 squares but not float64
    const big = keep(Tensor.from(new Float32Array([2 ** 64, 2 ** 64])));
    t.is(ops.sumOfSquares([big]), 2 * 2 ** 128);
    const nan = keep(Tensor.from(new Float32Array([1, NaN, 2])));
    t.true(Number.isNaN(ops.sumOfSquares([one, nan])));
    const inf = keep(Tensor.from(new Float32Array([1, -Infinity])));
    t.is(ops.sumOfSquares([inf]), Infinity);
    const bf = keep(ops.cast(one, 'bfloat16'));
    t.throws(() => ops.sumOfSquares([one, bf]), { message: /tensors\[1\]/ });
  } finally {
    for (const x of made) x.dispose();
  }
});

function hasTorch() {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error) return { ok: false, why: `/usr/bin/python3 could not be run (${r.error.message})` };
  if (r.status !== 0) return { ok: false, why: `/usr/bin/python3 has no torch (${r.stderr.trim().split('\n').pop()})` };
  return { ok: true, version: r.stdout.trim() };
}

// torch.optim.AdamW on the same start and gradients; params and moments come back as JSON.
const TORCH_ADAMW = `
import json, sys, torch
job = json.load(sys.stdin)
params = [torch.tensor(p, dtype=torch.float32, requires_grad=True) for p in job['params']]
groups = [{'params': [p], 'weight_decay': wd} for p, wd in zip(params, job['weightDecay'])]
opt = torch.optim.AdamW(groups, lr=job['lr'], betas=(job['beta1'], job['beta2']), eps=job['eps'])
for grads in job['grads']:
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g, dtype=torch.float32)
    opt.step()
out = {'params': [p.detach().tolist() for p in params],
       'expAvg': [opt.state[p]['exp_avg'].tolist() for p in params],
       'expAvgSq': [opt.state[p]['exp_avg_sq'].tolist() for p in params]}
json.dump(out, sys.stdout)
`;

test('adamwStep matches torch.optim.AdamW (when /usr/bin/python3 has torch)', (t) => {
  const torch = hasTorch();
  if (!torch.ok) {
    t.log(`skipped: ${torch.why}; the float64 reference test above still checks the formulas`);
    t.pass();
    return;
  }
  const seed = freshSeed();
  t.log(`torch ${torch.version}, seed ${seed}`);
  const sizes = [1, 7, 300, 1001];
  const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
  const weightDecay = [0, 0.1, 0.01, 0.05];
  const start = sizes.map((n, i) => randomArray(n, seed + i));
  const grads = [1, 2, 3, 4, 5].map((s) => sizes.map((n, i) => randomArray(n, seed + 100 * s + i)));
  const job = { ...hyper, weightDecay, params: start.map((a) => Array.from(a)), grads: grads.map((gs) => gs.map((g) => Array.from(g))) };
  const r = spawnSync('/usr/bin/python3', ['-c', TORCH_ADAMW], { input: JSON.stringify(job), encoding: 'utf8', maxBuffer: 1 << 26 });
  t.is(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout);
  const made = [];
  const keep = (x) => (made.push(x), x);
  try {
    const params = start.map((a) => keep(Tensor.from(a)));
    const m = sizes.map((n) => keep(Tensor.zeros([n])));
    const v = sizes.map((n) => keep(Tensor.zeros([n])));
    grads.forEach((gs, k) => ops.adamwStep(params, gs.map((g) => keep(Tensor.from(g))), m, v, { ...hyper, weightDecay, step: k + 1 }));
    // torch 1.13's CPU kernels do exactly the kernel's float32 operations (gmai/ops/optim.h):
    // bit-identical there. Later versions compute exp_avg with lerp_: within rounding.
    const exact = torch.version.startsWith('1.13');
    for (let i = 0; i < sizes.length; i++) {
      const what = `tensor ${i} after 5 steps, seed ${seed}`;
      const tol = (atol) => (exact ? { atol: 0, rtol: 0 } : { atol, rtol: 1e-6 });
      assertClose(t, params[i].toArray(), want.params[i], { ...tol(1e-6), what: `param ${what}` });
      assertClose(t, m[i].toArray(), want.expAvg[i], { ...tol(1e-7), what: `exp_avg ${what}` });
      assertClose(t, v[i].toArray(), want.expAvgSq[i], { ...tol(1e-9), what: `exp_avg_sq ${what}` });
    }
  } finally {
    for (const x of made) x.dispose();
  }
});
