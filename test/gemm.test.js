// GEMM: float64 references on fresh random inputs for every ISA path this CPU has and for
// 1 and 2 threads (each combination in a child process, since both are fixed when the addon
// loads; see test/gemm-check.js for the cases), plus argument errors.
import test from 'ava';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, ops, runtimeInfo } from '../dist/index.js';
import { freshSeed, rng } from './helpers.js';

const checkScript = join(dirname(fileURLToPath(import.meta.url)), 'gemm-check.js');
const ISA_ORDER = ['portable', 'avx2', 'avx512'];
const best = runtimeInfo().cpuIsa;
const isas = ISA_ORDER.slice(0, ISA_ORDER.indexOf(best) + 1);

function runCheck(isa, threads, seed) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [checkScript, String(seed)], {
      env: { ...process.env, GMAI_CPU_ISA: isa, GMAI_NUM_THREADS: String(threads) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '', err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`gemm-check (${isa}, ${threads} threads, seed ${seed}) exited ${code}: ${err}`));
      resolve(JSON.parse(out.trim().split('\n').pop()));
    });
  });
}

for (const isa of isas) {
  for (const threads of [1, 2]) {
    test.serial(`gemm matches a float64 reference (${isa}, ${threads} thread${threads > 1 ? 's' : ''})`, async (t) => {
      const seed = freshSeed();
      t.log(`seed ${seed}`);
      const r = await runCheck(isa, threads, seed);
      t.is(r.isa, isa, 'GMAI_CPU_ISA cap took effect');
      t.is(r.threads, threads, 'GMAI_NUM_THREADS took effect');
      t.true(r.checked > 600, `ran ${r.checked} checks`);
      t.deepEqual(r.failures, [], `seed ${seed}`);
    });
  }
}

test('gemm argument errors name the tensor', (t) => {
  const a = Tensor.from(new Float32Array(6), [2, 3]);
  const b = Tensor.from(new Float32Array(8), [4, 2]);
  t.throws(() => ops.matmul(a, b), { message: /'b'.*K = 4/ });
  const bNK = Tensor.from(new Float32Array(8), [2, 4]);
  t.throws(() => ops.matmul(a, bNK, { transB: true }), { message: /'b'.*\[N, K\].*K = 4/ });
  const ints = Tensor.from(new Int32Array(6), [3, 2]);
  t.throws(() => ops.matmul(a, ints), { message: /'b'/ });
  const a16 = ops.cast(a, 'bfloat16');
  t.throws(() => ops.matmul(a16, Tensor.from(new Float32Array(6), [3, 2])), { message: /'a'/ });
  const okB = Tensor.from(new Float32Array(6), [3, 2]);
  t.throws(() => ops.matmul(a, okB, { out: Tensor.empty([2, 3]) }), { message: /'c'/ });
  t.throws(() => ops.matmul(a, okB, { bias: Tensor.from(new Float32Array(3), [3]) }), { message: /'bias'/ });
  const batchedB = Tensor.from(new Float32Array(12), [2, 3, 2]);
  t.throws(() => ops.matmul(Tensor.from(new Float32Array(18), [3, 2, 3]), batchedB), { message: /'b' batch 2/ });
  for (const x of [a, b, bNK, ints, a16, okB, batchedB]) x.dispose();
});

test('gemm transA: a is read as [K, M]; shape errors say so', (t) => {
  const a = Tensor.from(new Float32Array(6), [3, 2]);  // [K = 3, M = 2]
  const b = Tensor.from(new Float32Array(8), [4, 2]);
  t.throws(() => ops.matmul(a, b, { transA: true }), { message: /'a'.*\[K, M\].*'b'.*K = 4/ });
  const b3 = Tensor.from(new Float32Array(12), [3, 4]);
  const c = ops.matmul(a, b3, { transA: true });
  t.deepEqual(c.shape, [2, 4]);
  t.throws(() => ops.matmul(a, b3, { transA: true, out: Tensor.empty([3, 4]) }), { message: /'c'/ });
  for (const x of [a, b, b3, c]) x.dispose();
});

test('grouped linears: argument errors name the part', (t) => {
  const x = Tensor.from(new Float32Array(6), [2, 3]);
  const w = Tensor.from(new Float32Array(12), [4, 3]);
  const bad = Tensor.from(new Float32Array(8), [4, 2]);
  t.throws(() => ops.linears(x, [w, bad]), { message: /'b\[1\]'/ });
  t.throws(() => ops.linears(x, []), { message: /1 to 8 weights/ });
  t.throws(() => ops.linears(x, [w], [Tensor.from(new Float32Array(3), [3])]), { message: /bias/ });
  const [y] = ops.linears(x, [w]);
  t.deepEqual(y.shape, [2, 4]);
  [x, w, bad, y].forEach((z) => z.dispose());
});

test('gemm on an empty product writes bias only (K = 0) and accepts M = 0', (t) => {
  const a = Tensor.from(new Float32Array(0), [2, 0]);
  const b = Tensor.from(new Float32Array(0), [0, 3]);
  const bias = Tensor.from(new Float32Array([1, 2, 3]), [3]);
  const c = Tensor.from(new Float32Array(6).fill(NaN), [2, 3]);
  ops.matmul(a, b, { bias, out: c });
  t.deepEqual(Array.from(c.toArray()), [1, 2, 3, 1, 2, 3]);
  const e = ops.matmul(Tensor.from(new Float32Array(0), [0, 4]), Tensor.from(new Float32Array(8), [4, 2]));
  t.deepEqual(e.shape, [0, 2]);
  for (const x of [a, b, bias, c, e]) x.dispose();
});

test('linearToArray = linear(...).toArray(), written straight into the array (bf16 and f32 weights, batched rows)', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  for (const [M, K, N, dtype] of [[1, 37, 53, 'float32'], [3, 64, 129, 'bfloat16'], [2, 5, 1, 'float32'], [2, 0, 3, 'float32']]) {
    const x = Tensor.from(Float32Array.from({ length: M * K }, () => r.normal()), [M, K]);
    const w32 = Tensor.from(Float32Array.from({ length: N * K }, () => r.normal()), [N, K]);
    const w = ops.cast(w32, dtype);
    const bias = Tensor.from(Float32Array.from({ length: N }, () => r.normal()), [N]);
    const ref = ops.linear(x, w, bias);
    const got = ops.linearToArray(x, w, bias);
    t.is(got.length, M * N);
    t.deepEqual(Array.from(got), Array.from(ref.toArray()), `${M}x${K}x${N} ${dtype}`);
    for (const y of [x, w32, w, bias, ref]) y.dispose();
  }
});
