// The small CPU ops the model is built from (RMSNorm, SwiGLU, softmax, broadcast binary ops,
// scale, dtype conversion, embedding gather) against float64 references computed here: fresh
// random inputs, row lengths that are not multiples of any vector width, size 1, and outputs
// poisoned with NaN so an element left unwritten shows.
import test from 'ava';
import { Tensor, ops } from '../dist/index.js';
import { assertClose, freshSeed, randomArray, rng, roundBf16 } from './helpers.js';

const ROW_LENGTHS = [1, 7, 16, 17, 896 + 3, 1283];
const poisoned = (shape) => Tensor.full(shape, NaN);

function withTensors(fn) {
  const made = [];
  const keep = (x) => (made.push(x), x);
  try {
    fn(keep);
  } finally {
    for (const x of made) x.dispose();
  }
}

test('rmsnorm = x / sqrt(mean(x²) + eps) · w, with 1/rms kept per row (f32 and bf16 weights, no weight)', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  for (const dim of ROW_LENGTHS) {
    for (const weightType of ['float32', 'bfloat16', null]) {
      withTensors((keep) => {
        const rows = 3, eps = 1e-6;
        const xa = randomArray(rows * dim, seed + dim, -3, 3);
        const wa = randomArray(dim, seed + dim + 1, 0.5, 1.5);
        const x = keep(Tensor.from(xa, [rows, dim]));
        const w32 = keep(Tensor.from(wa, [dim]));
        const w = weightType === null ? null : weightType === 'float32' ? w32 : keep(ops.cast(w32, 'bfloat16'));
        const wv = (j) => (weightType === null ? 1 : weightType === 'bfloat16' ? roundBf16(wa[j]) : wa[j]);
        const out = keep(poisoned([rows, dim])), invRms = keep(poisoned([rows]));
        ops.rmsnorm(x, w, eps, { out, invRms });
        const ref = new Float64Array(rows * dim), refInv = new Float64Array(rows);
        for (let r = 0; r < rows; r++) {
          let ss = 0;
          for (let j = 0; j < dim; j++) ss += xa[r * dim + j] ** 2;
          refInv[r] = 1 / Math.sqrt(ss / dim + eps);
          for (let j = 0; j < dim; j++) ref[r * dim + j] = xa[r * dim + j] * refInv[r] * wv(j);
        }
        const what = `dim ${dim}, weight ${weightType}, seed ${seed}`;
        assertClose(t, out.toArray(), ref, { atol: 1e-5, rtol: 1e-5, what: `rmsnorm ${what}` });
        assertClose(t, invRms.toArray(), refInv, { atol: 1e-6, rtol: 1e-5, what: `invRms ${what}` });
      });
    }
  }
});

test('swiglu = silu(gate) · up, including large |gate|', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  for (const n of ROW_LENGTHS) {
    withTensors((keep) => {
      const ga = randomArray(n, seed + n, -12, 12), ua = randomArray(n, seed + n + 1, -2, 2);
      if (n > 2) { ga[0] = -100; ga[1] = 100; }  // exp under/overflow territory
      const out = keep(poisoned([n]));
      ops.swiglu(keep(Tensor.from(ga, [n])), keep(Tensor.from(ua, [n])), out);
      const ref = Float64Array.from(ga, (g, i) => (g / (1 + Math.exp(-g))) * ua[i]);
      assertClose(t, out.toArray(), ref, { atol: 1e-6, rtol: 1e-5, what: `swiglu n ${n}, seed ${seed}` });
    });
  }
});

test('softmax over the last dimension with a scale; a row of -Infinity gives zeros', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  for (const cols of ROW_LENGTHS) {
    withTensors((keep) => {
      const rows = 3, scale = 0.7;
      const xa = randomArray(rows * cols, seed + cols, -20, 20);
      xa.fill(-Infinity, 2 * cols, 3 * cols);  // the last row sees nothing
      if (cols > 1) xa[1] = -Infinity;  // a masked entry in a live row
      const out = keep(poisoned([rows, cols]));
      ops.softmax(keep(Tensor.from(xa, [rows, cols])), { scale, out });
      const ref = new Float64Array(rows * cols);
      for (let r = 0; r < 2; r++) {
        const row = Array.from(xa.subarray(r * cols, (r + 1) * cols), (x) => x * scale);
        const m = Math.max(...row);
        const sum = row.reduce((a, x) => a + Math.exp(x - m), 0);
        row.forEach((x, j) => (ref[r * cols + j] = Math.exp(x - m) / sum));
      }
      assertClose(t, out.toArray(), ref, { atol: 1e-7, rtol: 1e-5, what: `softmax cols ${cols}, seed ${seed}` });
    });
  }
});

test('add/sub/mul/div with b repeating over a, and scale·a + shift', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const fns = { add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b };
  for (const cols of ROW_LENGTHS) {
    for (const [name, f] of Object.entries(fns)) {
      for (const bShape of [[3, cols], [cols], [1]]) {
        withTensors((keep) => {
          const aa = randomArray(3 * cols, seed + cols, -2, 2);
          const bSize = bShape.reduce((p, d) => p * d, 1);
          const ba = randomArray(bSize, seed + cols + 1, 0.5, 2);
          const out = keep(poisoned([3, cols]));
          ops[name](keep(Tensor.from(aa, [3, cols])), keep(Tensor.from(ba, bShape)), out);
          const ref = Float64Array.from(aa, (a, i) => f(a, ba[i % bSize]));
          assertClose(t, out.toArray(), ref, { atol: 1e-6, rtol: 1e-6, what: `${name} [3, ${cols}] by [${bShape}], seed ${seed}` });
        });
      }
    }
    withTensors((keep) => {
      const aa = randomArray(cols, seed + 7 * cols);
      const out = keep(poisoned([cols]));
      ops.scale(keep(Tensor.from(aa, [cols])), -1.5, 0.25, out);
      assertClose(t, out.toArray(), Float64Array.from(aa, (a) => a * -1.5 + 0.25), { atol: 1e-6, rtol: 1e-6, what: `scale ${cols}` });
    });
  }
});

test('cast float32 → bfloat16 rounds to nearest even; bfloat16 → float32 is exact', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  for (const n of ROW_LENGTHS) {
    withTensors((keep) => {
      const xa = randomArray(n, seed + n, -1e4, 1e4);
      const bf = keep(ops.cast(keep(Tensor.from(xa, [n])), 'bfloat16'));
      const back = keep(ops.cast(bf, 'float32'));
      t.deepEqual(Array.from(back.toArray()), Array.from(xa, roundBf16), `n ${n}, seed ${seed}`);
    });
  }
});

test('embedding gathers rows of f32 and bf16 tables (repeated ids too); an id outside the table is named', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  for (const dim of ROW_LENGTHS) {
    withTensors((keep) => {
      const rows = 11;
      const ta = randomArray(rows * dim, seed + dim, -1, 1);
      const ids = Int32Array.from({ length: 9 }, () => r.int(rows));
      ids[1] = ids[0];
      ids[2] = rows - 1;
      const table32 = keep(Tensor.from(ta, [rows, dim]));
      for (const table of [table32, keep(ops.cast(table32, 'bfloat16'))]) {
        const out = keep(poisoned([ids.length, dim]));
        ops.embedding(keep(Tensor.from(ids, [ids.length])), table, out);
        const cell = table.dtype === 'bfloat16' ? roundBf16 : (x) => x;
        const ref = new Float64Array(ids.length * dim);
        ids.forEach((id, i) => { for (let j = 0; j < dim; j++) ref[i * dim + j] = cell(ta[id * dim + j]); });
        t.deepEqual(Array.from(out.toArray()), Array.from(ref), `dim ${dim}, ${table.dtype}, seed ${seed}`);
      }
      t.throws(() => ops.embedding(keep(Tensor.from(Int32Array.from([0, rows]), [2])), table32), { message: /'ids'\[1\] = 11 is outside the table of 11 rows/ });
      t.throws(() => ops.embedding(keep(Tensor.from(Int32Array.from([-1]), [1])), table32), { message: /'ids'\[0\] = -1/ });
    });
  }
});

test('shape mismatches name the tensor', (t) => {
  withTensors((keep) => {
    const x = keep(Tensor.from(new Float32Array(6), [2, 3]));
    t.throws(() => ops.rmsnorm(x, keep(Tensor.from(new Float32Array(2), [2])), 1e-6), { message: /tensor 'weight' has shape \[2\]; expected \[3\]/ });
    t.throws(() => ops.swiglu(x, keep(Tensor.from(new Float32Array(5), [5]))), { message: /'gate' \[2, 3\] and 'up' \[5\] differ in size/ });
    t.throws(() => ops.add(x, keep(Tensor.from(new Float32Array(4), [4]))), { message: /'b' \[4\] does not broadcast over 'a' \[2, 3\]/ });
  });
});
