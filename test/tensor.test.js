import test from 'ava';
import { Tensor, ops, releaseCachedMemory, runtimeInfo } from '../dist/index.js';

test('runtime info reports a backend, an ISA and threads', (t) => {
  const r = runtimeInfo();
  t.true(r.backends.includes('cpu'));
  t.true(['avx512', 'avx2', 'portable'].includes(r.cpuIsa));
  t.true(r.threads >= 1);
});

test('round trip for every dtype', (t) => {
  const cases = [
    ['float32', new Float32Array([1.5, -2, 3e-8])],
    ['float64', new Float64Array([1.5, -2, 1e300])],
    ['int32', new Int32Array([1, -2, 2147483647])],
    ['int64', new BigInt64Array([1n, -2n, 9007199254740993n])],
    ['uint8', new Uint8Array([0, 1, 255])],
    ['int16', new Int16Array([-32768, 0, 32767])],
    ['int8', new Int8Array([-128, 0, 127])],
  ];
  for (const [dtype, data] of cases) {
    const x = Tensor.from(data, [3]);
    t.is(x.dtype, dtype);
    t.deepEqual(Array.from(x.toArray()), Array.from(data));
    x.dispose();
  }
});

test('bf16 and f16 round trips through float32', (t) => {
  const src = Tensor.from(new Float32Array([1, -0.5, 3.140625, 57344, 6.103515625e-5, 0]), [6]);
  for (const dtype of ['bfloat16', 'float16']) {
    const h = ops.cast(src, dtype);
    t.deepEqual(Array.from(h.toArray()), Array.from(src.toArray()));
    h.dispose();
  }
  // rounding: 1 + 2^-8 + 2^-9 rounds up to 1 + 2^-7 in bf16 (nearest even)
  const r = ops.cast(Tensor.from(new Float32Array([1 + 2 ** -8 + 2 ** -9]), [1]), 'bfloat16');
  t.is(r.toArray()[0], 1 + 2 ** -7);
  // float16: subnormal and overflow
  const sub = ops.cast(Tensor.from(new Float32Array([2 ** -24, 2 ** -20, 70000]), [3]), 'float16');
  t.deepEqual(Array.from(sub.toArray()), [2 ** -24, 2 ** -20, Infinity]);
});

test('zero-copy view of a typed array sees later writes; copy does not', (t) => {
  const data = new Float32Array([1, 2, 3, 4]);
  const alias = Tensor.from(data, [2, 2], { copy: false });
  const copied = Tensor.from(data, [2, 2]);
  data[0] = 42;
  t.is(alias.toArray()[0], 42);
  t.is(copied.toArray()[0], 1);
  alias.dispose();
  copied.dispose();
});

test('clone copies every byte, small and large (large copies are split over threads)', (t) => {
  for (const n of [1, 1000, (9 << 20) / 4 + 13, (33 << 20) / 4 + 1]) {
    const data = Int32Array.from({ length: n }, (_, i) => (i * 2654435761) | 0);
    const x = Tensor.from(data, [n]);
    const y = x.clone();
    const got = y.toArray();
    let same = got.length === n;
    for (let i = 0; same && i < n; i++) same = got[i] === data[i];
    t.true(same, `${n} int32 elements`);
    x.dispose();
    y.dispose();
  }
});

test('views share memory and bounds are checked', (t) => {
  const x = Tensor.from(new Float32Array([0, 1, 2, 3, 4, 5]), [2, 3]);
  const row1 = x.view([3], 3);
  t.deepEqual(Array.from(row1.toArray()), [3, 4, 5]);
  t.throws(() => x.view([4], 3), { message: /outside the tensor/ });
  t.throws(() => x.reshape([4]), { message: /cannot reshape/ });
  x.dispose();
  t.deepEqual(Array.from(row1.toArray()), [3, 4, 5], 'a view keeps its storage alive');
});

test('shapes: up to 6 dims, bad dims rejected', (t) => {
  const x = Tensor.empty([1, 2, 1, 2, 1, 2]);
  t.is(x.size, 8);
  t.throws(() => Tensor.empty([1, 1, 1, 1, 1, 1, 1]), { message: /more than 6 dimensions/ });
  t.throws(() => Tensor.empty([2, -1]), { message: /non-negative integer/ });
  t.throws(() => Tensor.from(new Float32Array(3), [2, 2]), { message: /needs 16/ });
});

test('use after dispose is a clear error; dispose is idempotent; Symbol.dispose works', (t) => {
  const x = Tensor.zeros([3]);
  x.dispose();
  x.dispose();
  t.true(x.disposed);
  t.throws(() => x.toArray(), { message: /used after dispose/ });
  // `using y = ...` compiles to a call of y[Symbol.dispose]() at scope exit (TS 5.2+).
  const y = Tensor.zeros([2]);
  t.is(typeof y[Symbol.dispose], 'function');
  y[Symbol.dispose]();
  t.true(y.disposed);
});

test('10,000 tensors of 1 MB created and disposed keep resident memory flat', (t) => {
  const MB = 1 << 20;
  const rssAfter = (n) => {
    for (let i = 0; i < n; i++) {
      const x = Tensor.empty([MB / 4]);
      x.write(new Float32Array(1)); // wrong size on purpose: must throw, not corrupt
      x.dispose();
    }
  };
  t.throws(() => rssAfter(1), { message: /bytes/ });
  const fill = new Float32Array(MB / 4).fill(1);
  const churn = (n) => {
    for (let i = 0; i < n; i++) {
      const x = Tensor.empty([MB / 4]);
      x.write(fill); // touch every page so leaked memory would be resident
      x.dispose();
    }
  };
  churn(500); // warm up allocator and V8
  const before = process.memoryUsage().rss;
  churn(10_000);
  const grown = process.memoryUsage().rss - before;
  t.log(`RSS growth over 10,000 × 1 MB tensors: ${(grown / MB).toFixed(1)} MB`);
  t.true(grown < 64 * MB, `RSS grew by ${(grown / MB).toFixed(1)} MB`);
});

test('Tensor.zeros is all zeros even where freed memory held other values, at odd sizes and size 1', (t) => {
  // Dirty the allocator first: a freed tensor full of NaN is what a new one may reuse.
  for (const n of [1, 7, 4099, 300_001]) {
    const dirty = Tensor.from(new Float32Array(n).fill(Number.NaN), [n]);
    dirty.dispose();
    const z = Tensor.zeros([n]);
    t.deepEqual(z.shape, [n]);
    t.is(z.dtype, 'float32');
    t.true(z.toArray().every((v) => Object.is(v, 0)), `size ${n}`);
    z.dispose();
  }
  const empty = Tensor.zeros([0, 3]);
  t.is(empty.size, 0);
  t.throws(() => Tensor.zeros([2, -1]), { message: /non-negative integer/ });
});

test('freed large CPU blocks are recycled up to the cap, reported by runtimeInfo and released on request', (t) => {
  releaseCachedMemory();
  const { hostCache } = runtimeInfo();
  t.is(hostCache.cachedBytes, 0);
  t.true(hostCache.capBytes > 0, 'on by default');
  const big = Tensor.empty([1 << 20]);  // 4 MB: recycled when disposed
  big.dispose();
  const cached = runtimeInfo().hostCache.cachedBytes;
  t.true(cached >= 4 << 20, `cached ${cached} bytes`);
  const again = Tensor.empty([1 << 20]);  // the same size takes the block back
  t.true(runtimeInfo().hostCache.cachedBytes < cached, 'reused');
  again.dispose();
  t.true(releaseCachedMemory() >= 4 << 20);
  t.is(runtimeInfo().hostCache.cachedBytes, 0);
});

test('GMAI_HOST_CACHE_MB=0 turns recycling off', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const script = "import { Tensor, runtimeInfo } from './dist/index.js'; Tensor.empty([1 << 20]).dispose(); console.log(JSON.stringify(runtimeInfo().hostCache));";
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, GMAI_HOST_CACHE_MB: '0' }, encoding: 'utf8' });
  t.deepEqual(JSON.parse(out), { cachedBytes: 0, capBytes: 0 });
});
