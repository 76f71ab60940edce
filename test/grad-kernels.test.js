// Backward kernels (rmsnorm, swiglu, gelu, rope, softmax, embedding, column sums) against
// float64 central finite differences of float64 JS forwards written here: L = Σ r ⊙ f(x) for a
// random r, so ∂L/∂x is the kernel's dx for dy = r. Tiny odd shapes (size 1 included) for the
// finite differences; larger ones (threaded, vector loops plus tails) against the float64
// analytic gradient those checks validate. Outputs are poisoned with NaN (the native calls
// take the output tensors) and accumulators start from random values.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, ops, runtimeInfo } from '../dist/index.js';
import { native } from '../dist/native.js';
import { freshSeed, rng } from './helpers.js';

const poisoned = (shape) => Tensor.full(shape, NaN);

function withTensors(fn) {
  const made = [];
  const keep = (x) => (made.push(x), x);
  try {
    return fn(keep);
  } finally {
    for (const x of made) x.dispose();
  }
}

function uniform(r, n, lo = -1, hi = 1) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r.uniform(lo, hi);
  return a;
}

/** ∂/∂x of Σ r·f(x) by float64 central differences, every element of x. */
function fdGrad(f, x, rWeights, h = 1e-6) {
  const xs = Float64Array.from(x), grad = new Float64Array(x.length);
  const loss = () => f(xs).reduce((s, v, i) => s + v * rWeights[i], 0);
  for (let i = 0; i < x.length; i++) {
    xs[i] = x[i] + h;
    const lp = loss();
    xs[i] = x[i] - h;
    const lm = loss();
    xs[i] = x[i];
    grad[i] = (lp - lm) / (2 * h);
  }
  return grad;
}

/** Fails on the first element with |got − want| > atol + rtol·|want| (NaN fails). */
function expectClose(t, got, want, what, { atol = 2e-5, rtol = 1e-4 } = {}) {
  t.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]))) {
      t.fail(`${what}: [${i}] = ${got[i]}, expected ${want[i]}`);
      return;
    }
  }
  t.pass();
}

// ---- rmsnorm ------------------------------------------------------------------------------

function rmsnorm64(x, w, rows, dim, eps) {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += x[r * dim + j] ** 2;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let j = 0; j < dim; j++) y[r * dim + j] = x[r * dim + j] * inv * (w ? w[j] : 1);
  }
  return y;
}

/** float64 analytic gradients (checked against finite differences on the small shapes). */
function rmsnormGrad64(dy, x, w, rows, dim, eps) {
  const dx = new Float64Array(rows * dim), dw = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0, gx = 0;
    for (let j = 0; j < dim; j++) ss += x[r * dim + j] ** 2;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let j = 0; j < dim; j++) gx += dy[r * dim + j] * (w ? w[j] : 1) * x[r * dim + j];
    for (let j = 0; j < dim; j++) {
      const i = r * dim + j;
      dx[i] = inv * dy[i] * (w ? w[j] : 1) - x[i] * inv ** 3 * gx / dim;
      dw[j] += dy[i] * x[i] * inv;
    }
  }
  return { dx, dw };
}

/** Runs the native backward with poisoned dx and a random dweight; returns both (dweight minus its start). */
function runRmsnormBackward(keep, r, xa, wTensor, dya, rows, dim, eps) {
  const x = keep(Tensor.from(xa, [rows, dim]));
  const invRms = keep(poisoned([rows]));
  keep(ops.rmsnorm(x, wTensor, eps, { invRms }));
  const dy = keep(Tensor.from(dya, [rows, dim]));
  const dx = keep(poisoned([rows, dim]));
  const dw0 = uniform(r, dim);
  const dweight = keep(Tensor.from(dw0, [dim]));
  native().rmsnormBackward(dy.handle, x.handle, wTensor?.handle ?? null, invRms.handle, dx.handle, dweight.handle);
  const added = Float64Array.from(dweight.toArray(), (v, j) => v - dw0[j]);
  // The wrapper gives the same dx, and accumulates the same amount again.
  const dx2 = keep(ops.rmsnormBackward(dy, x, wTensor, invRms, { dweight }));
  return { dx: dx.toArray(), dx2: dx2.toArray(), invRms, added, dweightStart: dw0, dweightAfter2: dweight.toArray() };
}

test('rmsnormBackward: dx and the accumulated dweight match finite differences (f32/bf16/f16/no weight)', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  const eps = 1e-5;
  for (const [rows, dim] of [[1, 1], [1, 2], [3, 7], [2, 17], [4, 33]]) {
    for (const wType of ['float32', 'bfloat16', 'float16', null]) {
      withTensors((keep) => {
        const xa = uniform(r, rows * dim, -2, 2), dya = uniform(r, rows * dim);
        const w32 = keep(Tensor.from(uniform(r, dim, 0.5, 1.5), [dim]));
        const wT = wType === null ? null : wType === 'float32' ? w32 : keep(ops.cast(w32, wType));
        const wv = wT ? Float64Array.from(wT.toArray()) : null;  // the values the kernel reads (rounded)
        const got = runRmsnormBackward(keep, r, xa, wT, dya, rows, dim, eps);
        const tag = `[${rows}, ${dim}] weight ${wType} seed ${seed}`;
        const wantDx = fdGrad((xs) => rmsnorm64(xs, wv, rows, dim, eps), xa, dya);
        expectClose(t, got.dx, wantDx, `dx ${tag}`);
        t.deepEqual(got.dx2, got.dx, `wrapper dx ${tag}`);
        if (wv) {
          const wantDw = fdGrad((ws) => rmsnorm64(xa, ws, rows, dim, eps), wv, dya);
          expectClose(t, got.added, wantDw, `dweight added ${tag}`, { atol: 5e-5 });
          const twice = Float64Array.from(got.dweightAfter2, (v, j) => v - got.dweightStart[j]);
          expectClose(t, twice, Float64Array.from(got.added, (v) => 2 * v), `dweight after two calls ${tag}`, { atol: 5e-5 });
        }
      });
    }
  }
});

test('rmsnormBackward on larger rows (threaded, vector loops + tails) matches the float64 gradient; dweight is deterministic', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  const eps = 1e-6;
  for (const [rows, dim, wType] of [[37, 899, 'bfloat16'], [300, 131, 'float32'], [5, 1283, null]]) {
    withTensors((keep) => {
      const xa = uniform(r, rows * dim, -3, 3), dya = uniform(r, rows * dim);
      const w32 = keep(Tensor.from(uniform(r, dim, 0.5, 1.5), [dim]));
      const wT = wType === null ? null : wType === 'float32' ? w32 : keep(ops.cast(w32, wType));
      const wv = wT ? wT.toArray() : null;
      const got = runRmsnormBackward(keep, r, xa, wT, dya, rows, dim, eps);
      const want = rmsnormGrad64(dya, xa, wv, rows, dim, eps);
      const tag = `[${rows}, ${dim}] weight ${wType} seed ${seed}`;
      expectClose(t, got.dx, want.dx, `dx ${tag}`, { atol: 1e-5 });
      expectClose(t, got.added, want.dw, `dweight ${tag}`, { atol: 1e-4 * Math.sqrt(rows) });
      // Deterministic: from zero, two calls give the same bits.
      const sums = [0, 1].map(() => {
        const dw = keep(Tensor.zeros([dim]));
        keep(ops.rmsnormBackward(keep(Tensor.from(dya, [rows, dim])), keep(Tensor.from(xa, [rows, dim])), wT, got.invRms, { dweight: dw }));
        return dw.toArray();
      });
      t.deepEqual(sums[0], sums[1], `dweight bits repeat ${tag}`);
    });
  }
});

// ---- swiglu, gelu -------------------------------------------------------------------------

const silu64 = (g) => g / (1 + Math.exp(-g));

test('swigluBackward: dgate and dup match finite differences of silu(gate)·up', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  for (const n of [1, 7, 33, 4099]) {
    withTensors((keep) => {
      const ga = uniform(r, n, -8, 8), ua = uniform(r, n, -2, 2), dya = uniform(r, n);
      const gate = keep(Tensor.from(ga, [n])), up = keep(Tensor.from(ua, [n])), dy = keep(Tensor.from(dya, [n]));
      const dgate = keep(poisoned([n])), dup = keep(poisoned([n]));
      native().swigluBackward(dy.handle, gate.handle, up.handle, dgate.handle, dup.handle);
      const tag = `n ${n} seed ${seed}`;
      let wantG, wantU;
      if (n <= 33) {
        wantG = fdGrad((gs) => gs.map((g, i) => silu64(g) * ua[i]), ga, dya);
        wantU = fdGrad((us) => us.map((u, i) => silu64(ga[i]) * u), ua, dya);
      } else {  // analytic: d silu = s·(1 + g·(1 − s))
        const sig = (g) => 1 / (1 + Math.exp(-g));
        wantG = Float64Array.from(ga, (g, i) => dya[i] * ua[i] * sig(g) * (1 + g * (1 - sig(g))));
        wantU = Float64Array.from(ga, (g, i) => dya[i] * silu64(g));
      }
      expectClose(t, dgate.toArray(), wantG, `dgate ${tag}`);
      expectClose(t, dup.toArray(), wantU, `dup ${tag}`);
      const w = ops.swigluBackward(dy, gate, up);
      keep(w.dgate); keep(w.dup);
      t.deepEqual(w.dgate.toArray(), dgate.toArray(), `wrapper dgate ${tag}`);
      t.deepEqual(w.dup.toArray(), dup.toArray(), `wrapper dup ${tag}`);
    });
  }
});

// swigluBackward has an AVX2 and a portable path (vmath); the ISA is fixed when the addon
// loads, so the portable one runs in a child process with GMAI_CPU_ISA=portable.
test('swigluBackward: the portable path (GMAI_CPU_ISA=portable) matches the float64 gradient too', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed} (parent ISA ${runtimeInfo().cpuIsa})`);
  const n = 1037;
  const child = `
    import { Tensor, ops, runtimeInfo } from './dist/index.js';
    import { rng } from './test/helpers.js';
    const r = rng(${seed});
    const make = (lo, hi) => Float32Array.from({ length: ${n} }, () => r.uniform(lo, hi));
    const g = make(-8, 8), u = make(-2, 2), dy = make(-1, 1);
    const { dgate, dup } = ops.swigluBackward(Tensor.from(dy, [${n}]), Tensor.from(g, [${n}]), Tensor.from(u, [${n}]));
    console.log(JSON.stringify({ isa: runtimeInfo().cpuIsa, g: [...g], u: [...u], dy: [...dy], dgate: [...dgate.toArray()], dup: [...dup.toArray()] }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', child], {
    cwd: join(dirname(fileURLToPath(import.meta.url)), '..'), env: { ...process.env, GMAI_CPU_ISA: 'portable' }, encoding: 'utf8',
  });
  const res = JSON.parse(out.trim().split('\n').pop());
  t.is(res.isa, 'portable', 'GMAI_CPU_ISA cap took effect');
  const sig = (x) => 1 / (1 + Math.exp(-x));
  expectClose(t, res.dgate, res.g.map((g, i) => res.dy[i] * res.u[i] * sig(g) * (1 + g * (1 - sig(g)))), `portable dgate seed ${seed}`);
  expectClose(t, res.dup, res.g.map((g, i) => res.dy[i] * g * sig(g)), `portable dup seed ${seed}`);
});

/** erf in float64 by its Maclaurin series (|x| <= 3: terms peak near 1e3, so ~1e-13 absolute). */
function erf64(x) {
  let term = x, sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
const gelu64 = (x) => 0.5 * x * (1 + erf64(x / Math.SQRT2));

test('geluBackward matches finite differences of the exact (erf) GELU', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  t.true(Math.abs(erf64(1) - 0.8427007929497149) < 1e-14, 'erf64 reference');
  for (const shape of [[1], [3, 7], [5, 41]]) {
    withTensors((keep) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const xa = uniform(r, n, -3, 3), dya = uniform(r, n);
      const x = keep(Tensor.from(xa, shape)), dy = keep(Tensor.from(dya, shape));
      const dx = keep(poisoned(shape));
      native().geluBackward(dy.handle, x.handle, dx.handle);
      const want = fdGrad((xs) => xs.map(gelu64), xa, dya, 1e-5);
      expectClose(t, dx.toArray(), want, `dx [${shape}] seed ${seed}`);
      t.deepEqual(keep(ops.geluBackward(dy, x)).toArray(), dx.toArray(), 'wrapper');
    });
  }
});

// ---- rope, softmax ------------------------------------------------------------------------

function rope64(x, cos, sin, T, H, D) {
  const half = D / 2, y = new Float64Array(x.length);
  for (let t = 0; t < T; t++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < half; i++) {
        const o = (t * H + h) * D, x1 = x[o + i], x2 = x[o + i + half], c = cos[t * half + i], s = sin[t * half + i];
        y[o + i] = x1 * c - x2 * s;
        y[o + i + half] = x2 * c + x1 * s;
      }
  return y;
}

test('ropeBackward matches finite differences of the rotate-half rotary embedding', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  for (const [T, H, D] of [[1, 1, 2], [3, 2, 6], [5, 3, 10], [2, 1, 34]]) {
    withTensors((keep) => {
      const angles = Array.from({ length: T * D / 2 }, () => r.uniform(-4, 4));
      const cosA = Float32Array.from(angles, Math.cos), sinA = Float32Array.from(angles, Math.sin);
      const xa = uniform(r, T * H * D, -2, 2), dya = uniform(r, T * H * D);
      const cos = keep(Tensor.from(cosA, [T, D / 2])), sin = keep(Tensor.from(sinA, [T, D / 2]));
      const dy = keep(Tensor.from(dya, [T, H, D])), dx = keep(poisoned([T, H, D]));
      native().ropeBackward(dy.handle, cos.handle, sin.handle, dx.handle);
      const want = fdGrad((xs) => rope64(xs, cosA, sinA, T, H, D), xa, dya);
      expectClose(t, dx.toArray(), want, `dx [${T}, ${H}, ${D}] seed ${seed}`);
      t.deepEqual(keep(ops.ropeBackward(dy, cos, sin)).toArray(), dx.toArray(), 'wrapper');
    });
  }
});

function softmax64(x, rows, cols, scale) {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity, s = 0;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j] * scale);
    for (let j = 0; j < cols; j++) s += Math.exp(x[r * cols + j] * scale - m);
    for (let j = 0; j < cols; j++) y[r * cols + j] = Math.exp(x[r * cols + j] * scale - m) / s;
  }
  return y;
}

test('softmaxBackward matches finite differences of softmax(x·scale)', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  for (const [rows, cols] of [[1, 1], [1, 2], [3, 7], [2, 17], [4, 35]]) {
    for (const scale of [1, 0.7]) {
      withTensors((keep) => {
        const xa = uniform(r, rows * cols, -3, 3), dya = uniform(r, rows * cols);
        const x = keep(Tensor.from(xa, [rows, cols]));
        const y = keep(ops.softmax(x, { scale }));
        const dy = keep(Tensor.from(dya, [rows, cols])), dx = keep(poisoned([rows, cols]));
        native().softmaxBackward(y.handle, dy.handle, dx.handle, scale);
        const want = fdGrad((xs) => softmax64(xs, rows, cols, scale), xa, dya);
        expectClose(t, dx.toArray(), want, `dx [${rows}, ${cols}] scale ${scale} seed ${seed}`);
        t.deepEqual(keep(ops.softmaxBackward(y, dy, { scale })).toArray(), dx.toArray(), 'wrapper');
      });
    }
  }
});

test('softmaxBackward on long rows (threaded, vector loops + tails) matches the float64 gradient', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  const [rows, cols, scale] = [19, 1037, 0.5];
  withTensors((keep) => {
    const xa = uniform(r, rows * cols, -4, 4), dya = uniform(r, rows * cols);
    const x = keep(Tensor.from(xa, [rows, cols]));
    const y = keep(ops.softmax(x, { scale })), yv = y.toArray();
    const dx = keep(ops.softmaxBackward(y, keep(Tensor.from(dya, [rows, cols])), { scale }));
    const want = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      let dot = 0;
      for (let j = 0; j < cols; j++) dot += dya[i * cols + j] * yv[i * cols + j];
      for (let j = 0; j < cols; j++) want[i * cols + j] = scale * yv[i * cols + j] * (dya[i * cols + j] - dot);
    }
    expectClose(t, dx.toArray(), want, `dx [${rows}, ${cols}] seed ${seed}`, { atol: 1e-7 });
  });
});

// ---- sums and scatter-adds ----------------------------------------------------------------

test('sumRows: column sums (write and accumulate), leading dimensions flattened', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  for (const shape of [[1, 1], [5, 1], [1, 9], [7, 17], [2, 3, 300], [1200, 37], [3, 4099]]) {
    withTensors((keep) => {
      const cols = shape.at(-1), rows = shape.reduce((a, b) => a * b, 1) / cols;
      const xa = uniform(r, rows * cols);
      const x = keep(Tensor.from(xa, shape));
      const want = new Float64Array(cols);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) want[j] += xa[i * cols + j];
      const out = keep(poisoned([cols]));
      t.is(ops.sumRows(x, out), out);
      const tol = { atol: 1e-6 * Math.sqrt(rows) * 4, rtol: 1e-6 };
      expectClose(t, out.toArray(), want, `sumRows [${shape}] seed ${seed}`, tol);
      const start = uniform(r, cols);
      const acc = keep(Tensor.from(start, [cols]));
      ops.sumRows(x, acc, { accumulate: true });
      expectClose(t, acc.toArray(), Float64Array.from(want, (v, j) => v + start[j]), `sumRows accumulate [${shape}] seed ${seed}`, tol);
    });
  }
});

test('embeddingBackward scatter-adds dy rows into dtable (repeated ids add up, in order); also the gradient of gatherRows', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  for (const [rows, dim, count] of [[1, 1, 1], [1, 3, 4], [5, 7, 9], [50, 1000, 300]]) {
    withTensors((keep) => {
      const idsA = Int32Array.from({ length: count }, () => r.int(rows));
      const dya = uniform(r, count * dim), start = uniform(r, rows * dim);
      const ids = keep(Tensor.from(idsA, [count]));
      const dtable = keep(Tensor.from(start, [rows, dim]));
      ops.embeddingBackward(ids, keep(Tensor.from(dya, [count, dim])), dtable);
      // Exact: float32 adds in the order of i, what a sequential loop gives.
      const want = Float32Array.from(start);
      for (let i = 0; i < count; i++)
        for (let j = 0; j < dim; j++) want[idsA[i] * dim + j] = Math.fround(want[idsA[i] * dim + j] + dya[i * dim + j]);
      t.deepEqual(dtable.toArray(), want, `dtable [${rows}, ${dim}] ids ${count} seed ${seed}`);
    });
  }
  // As the backward of gatherRows (embedding on a float32 table): L = Σ r·gatherRows(x, idx).
  withTensors((keep) => {
    const [rows, dim] = [4, 3], idx = Int32Array.from([2, 0, 2, 3, 2]);
    const xa = uniform(r, rows * dim), ra = uniform(r, idx.length * dim);
    const gather64 = (xs) => Float64Array.from({ length: idx.length * dim }, (_, k) => xs[idx[Math.floor(k / dim)] * dim + (k % dim)]);
    const want = fdGrad(gather64, xa, ra);
    const grad = keep(Tensor.zeros([rows, dim]));
    ops.embeddingBackward(keep(Tensor.from(idx, [idx.length])), keep(Tensor.from(ra, [idx.length, dim])), grad);
    expectClose(t, grad.toArray(), want, `gatherRows gradient seed ${seed}`);
  });
});

// ---- argument errors ----------------------------------------------------------------------

test('backward ops: argument errors name the tensor', (t) => {
  withTensors((keep) => {
    const x = keep(Tensor.from(new Float32Array(6), [2, 3]));
    const inv = keep(Tensor.from(new Float32Array(2), [2]));
    t.throws(() => ops.rmsnormBackward(keep(Tensor.zeros([3, 2])), x, null, inv), { message: /'dy'/ });
    t.throws(() => ops.rmsnormBackward(x, x, null, keep(Tensor.zeros([3]))), { message: /'invRms'/ });
    t.throws(() => ops.rmsnormBackward(x, x, keep(Tensor.zeros([2])), inv), { message: /'weight'/ });
    t.throws(() => ops.rmsnormBackward(x, x, null, inv, { dweight: keep(Tensor.zeros([4])) }), { message: /'dweight'/ });
    t.throws(() => ops.swigluBackward(x, x, keep(Tensor.zeros([7]))), { message: /'up'/ });
    t.throws(() => ops.softmaxBackward(x, keep(Tensor.zeros([3, 2]))), { message: /'dy'/ });
    t.throws(() => ops.geluBackward(keep(Tensor.zeros([6])), x), { message: /'dy'/ });
    t.throws(() => ops.ropeBackward(x, x, x), { message: /'dy'/ });
    t.throws(() => ops.sumRows(x, keep(Tensor.zeros([2]))), { message: /'out'/ });
    const ids = keep(Tensor.from(new Int32Array([0, 2]), [2]));
    t.throws(() => ops.embeddingBackward(ids, x, keep(Tensor.zeros([2, 3]))), { message: /'ids'\[1\] = 2/ });
    t.throws(() => ops.embeddingBackward(ids, keep(Tensor.zeros([2, 4])), keep(Tensor.zeros([3, 3]))), { message: /'dy'/ });
  });
});
