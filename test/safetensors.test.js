import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';

import { SafetensorsError, Tensor, openSafetensors, saveSafetensors, writeFileAtomic } from '../dist/index.js';
import { findPythonWithNumpy, fixture, freshSeed, pythonCandidates, readJson, rng } from './helpers.js';
import { rawFile, splitFile, tempDir, writeRaw } from './safetensors-helpers.js';

const NUMPY_READER = fixture('safetensors', 'numpy_reader.py');
const GOLDEN = fixture('safetensors', 'tiny-model-bf16.safetensors');
// numpy is an optional tool for this one cross-check (.ci/run installs it): without it the test
// is reported as skipped, with the reason, rather than failing the suite.
const PYTHON = findPythonWithNumpy();
const numpyTest = PYTHON ? test : test.skip;
const numpySkipReason = PYTHON ? '' : ` (skipped: ${pythonCandidates().join(', ')} lack numpy; set GMAI_TEST_PYTHON or install python3-numpy)`;

// ---------------------------------------------------------------- random tensors of every dtype

/** IEEE half → number, written out independently of the addon. */
function f16ToNumber(h) {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 31, man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}
const bf16ToNumber = (h) => new Float32Array(new Uint32Array([h << 16]).buffer)[0];

/** A tensor of `dtype` with finite random values, and the values as plain numbers/bigints. */
function randomTensor(dtype, shape, r) {
  const n = shape.reduce((a, b) => a * b, 1);
  const u16 = () => r.int(65536);
  switch (dtype) {
    case 'float64': { const a = Float64Array.from({ length: n }, () => r.normal() * 1e3); return [Tensor.from(a, shape), [...a]]; }
    case 'float32': { const a = Float32Array.from({ length: n }, () => r.normal()); return [Tensor.from(a, shape), [...a]]; }
    case 'bfloat16': {
      const a = Uint16Array.from({ length: n }, () => { let h = u16(); if (((h >> 7) & 0xff) === 0xff) h ^= 0x4000; return h; });
      return [Tensor.from(a, shape, { dtype: 'bfloat16' }), [...a].map(bf16ToNumber)];
    }
    case 'float16': {
      const a = Uint16Array.from({ length: n }, () => { let h = u16(); if (((h >> 10) & 31) === 31) h ^= 0x4000; return h; });
      return [Tensor.from(a, shape, { dtype: 'float16' }), [...a].map(f16ToNumber)];
    }
    case 'int64': {
      const a = BigInt64Array.from({ length: n }, () => (BigInt(r.int(2 ** 31)) << 32n | BigInt(r.int(2 ** 32))) * (r.next() < 0.5 ? -1n : 1n));
      return [Tensor.from(a, shape), [...a]];
    }
    case 'int32': { const a = Int32Array.from({ length: n }, () => r.int(2 ** 32) - 2 ** 31); return [Tensor.from(a, shape), [...a]]; }
    case 'int16': { const a = Int16Array.from({ length: n }, () => r.int(65536) - 32768); return [Tensor.from(a, shape), [...a]]; }
    case 'int8': { const a = Int8Array.from({ length: n }, () => r.int(256) - 128); return [Tensor.from(a, shape), [...a]]; }
    case 'uint8': { const a = Uint8Array.from({ length: n }, () => r.int(256)); return [Tensor.from(a, shape), [...a]]; }
    case 'bool': { const a = Uint8Array.from({ length: n }, () => r.int(2)); return [Tensor.from(a, shape, { dtype: 'bool' }), [...a]]; }
  }
  throw new Error(dtype);
}

const DTYPES = ['float64', 'float32', 'bfloat16', 'float16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];
const FILE_DTYPE = { float64: 'F64', float32: 'F32', bfloat16: 'BF16', float16: 'F16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL' };
// 0-d, zero-size, size 1, sizes that make odd byte counts, six dimensions
const SHAPES = [[], [0], [1], [3], [2, 0, 5], [5, 7], [1, 1, 1, 1, 1, 1], [2, 3, 1, 2, 1, 3]];

/** name → { tensor, values } covering every dtype × shape. */
function everyDtypeSet(seed) {
  const r = rng(seed);
  const set = new Map();
  for (const dtype of DTYPES) {
    SHAPES.forEach((shape, i) => {
      const [tensor, values] = randomTensor(dtype, shape, r);
      set.set(`${dtype}.${i}`, { tensor, values, shape });
    });
  }
  return set;
}
const tensorsOf = (set) => new Map([...set].map(([k, v]) => [k, v.tensor]));
const disposeSet = (set) => { for (const v of set.values()) v.tensor.dispose(); };

// ---------------------------------------------------------------- round trips

test('round trip of every dtype, 0-d scalars and zero-size tensors is byte exact', async (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const tmp = tempDir();
  const set = everyDtypeSet(seed);
  try {
    const file = tmp.path('all.safetensors');
    await saveSafetensors(file, tensorsOf(set), { note: 'every dtype' });
    const r = openSafetensors(file);
    t.deepEqual(r.keys(), [...set.keys()].sort());
    t.deepEqual(r.metadata, { note: 'every dtype' });
    for (const [name, { tensor, shape }] of set) {
      const info = r.info(name);
      t.is(info.dtype, tensor.dtype, name);
      t.deepEqual(info.shape, shape, name);
      t.is(info.byteLength, tensor.byteLength, name);
      const got = r.get(name);
      t.is(got.dtype, tensor.dtype);
      t.deepEqual([...got.shape], shape);
      t.deepEqual(got.toBytes(), tensor.toBytes(), `${name} bytes`);
    }
  } finally {
    disposeSet(set);
    tmp.cleanup();
  }
});

numpyTest(`files we write load in an independent numpy reader (header parsed by hand)${numpySkipReason}`, async (t) => {
  t.log(`python: ${PYTHON}`);
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const tmp = tempDir();
  const set = everyDtypeSet(seed);
  try {
    const file = tmp.path('for-numpy.safetensors');
    await saveSafetensors(file, tensorsOf(set), { format: 'pt', 'ünïcode ✓': 'välue' });
    const py = spawnSync(PYTHON, [NUMPY_READER, file], { encoding: 'utf8', maxBuffer: 64 << 20 });
    t.is(py.status, 0, py.stderr);
    const got = JSON.parse(py.stdout);
    t.deepEqual(got.metadata, { format: 'pt', 'ünïcode ✓': 'välue' });
    t.is(got.header_len % 8, 0, 'header padded to a multiple of 8');
    t.deepEqual(Object.keys(got.tensors).sort(), [...set.keys()].sort());
    for (const [name, { tensor, values, shape }] of set) {
      const p = got.tensors[name];
      t.is(p.dtype, FILE_DTYPE[tensor.dtype], name);
      t.deepEqual(p.shape, shape, name);
      t.true(p.aligned, `${name} is aligned for its dtype`);
      const expected = tensor.dtype === 'int64' ? values.map(String) : values;
      t.deepEqual(p.values, expected, `${name} values`);
    }
  } finally {
    disposeSet(set);
    tmp.cleanup();
  }
});

test('layout: deterministic bytes, padded header, alignment-first order like the reference writer', async (t) => {
  const tmp = tempDir();
  const a = Tensor.from(new Uint8Array([1, 2, 3]), [3]);
  const b = Tensor.from(new Float64Array([0.5]), [1]);
  const c = Tensor.from(new Float32Array([1, 2]), [2]);
  const d = Tensor.from(new Uint16Array([0x3f80]), [1], { dtype: 'bfloat16' });
  try {
    await saveSafetensors(tmp.path('1.safetensors'), { a, b, c, d });
    await saveSafetensors(tmp.path('2.safetensors'), new Map([['d', d], ['c', c], ['b', b], ['a', a]]));
    const one = readFileSync(tmp.path('1.safetensors'));
    t.deepEqual(one, readFileSync(tmp.path('2.safetensors')), 'same tensors, same bytes, whatever the insertion order');
    const { n, header, data } = splitFile(one);
    t.is(n % 8, 0);
    t.deepEqual(Object.keys(header), ['b', 'c', 'd', 'a']);  // F64, F32, BF16, U8
    t.deepEqual(header.b, { dtype: 'F64', shape: [1], data_offsets: [0, 8] });
    t.deepEqual(header.c, { dtype: 'F32', shape: [2], data_offsets: [8, 16] });
    t.deepEqual(header.d, { dtype: 'BF16', shape: [1], data_offsets: [16, 18] });
    t.deepEqual(header.a, { dtype: 'U8', shape: [3], data_offsets: [18, 21] });
    t.is(data.length, 21);
    t.is(data.readDoubleLE(0), 0.5);
    // The reference library's own expected bytes for an empty dict: {} padded to 8.
    await saveSafetensors(tmp.path('empty.safetensors'), {});
    t.deepEqual([...readFileSync(tmp.path('empty.safetensors'))], [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const e = openSafetensors(tmp.path('empty.safetensors'));
    t.deepEqual(e.keys(), []);
  } finally {
    [a, b, c, d].forEach((x) => x.dispose());
    tmp.cleanup();
  }
});

test('metadata round trip, including awkward keys; tensors named __proto__', async (t) => {
  const tmp = tempDir();
  const x = Tensor.from(new Int32Array([7, 8]), [2]);
  try {
    const metadata = { format: 'pt', '': 'empty key', __proto__x: 'y', 'a"b\\c\n': '\u0000\u2028', 日本: '語' };
    Object.defineProperty(metadata, '__proto__', { value: 'not a prototype', enumerable: true });
    const tensors = new Map([['__proto__', x], ['constructor', x]]);
    await saveSafetensors(tmp.path('m.safetensors'), tensors, metadata);
    const r = openSafetensors(tmp.path('m.safetensors'));
    t.deepEqual(Object.entries(r.metadata).sort(), Object.entries(metadata).sort());
    t.is(Object.getPrototypeOf(r.metadata), Object.prototype);
    t.deepEqual(r.keys(), ['__proto__', 'constructor']);
    const p = r.get('__proto__');
    t.deepEqual([...p.toArray()], [7, 8]);
    await t.throwsAsync(saveSafetensors(tmp.path('bad.safetensors'), { x }, { n: 3 }), { message: /metadata value 'n' is not a string/ });
    await t.throwsAsync(saveSafetensors(tmp.path('bad.safetensors'), { __metadata__: x }), { message: /'__metadata__' is reserved/ });
    await t.throwsAsync(saveSafetensors(tmp.path('bad.safetensors'), { x: new Float32Array(2) }), { message: /'x' is not a Tensor/ });
    t.false(existsSync(tmp.path('bad.safetensors')));
  } finally {
    x.dispose();
    tmp.cleanup();
  }
});

test('a tensor larger than one write chunk round trips', async (t) => {
  const tmp = tempDir();
  const n = (16 << 20) / 4 + 3;  // crosses the 16 MiB chunk boundary with a ragged tail
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = i * 0.25;
  const x = Tensor.from(a, [n]);
  try {
    await saveSafetensors(tmp.path('big.safetensors'), { x });
    const r = openSafetensors(tmp.path('big.safetensors'));
    const y = r.get('x');
    const back = y.toArray();
    t.is(back.length, n);
    let bad = -1;
    for (let i = 0; i < n; i++) if (back[i] !== i * 0.25) { bad = i; break; }
    t.is(bad, -1, `first mismatch at ${bad}`);
  } finally {
    x.dispose();
    tmp.cleanup();
  }
});

// ---------------------------------------------------------------- reading other writers' files

test('golden checkpoint (tiny-model-bf16): dtypes, shapes and values match numpy', (t) => {
  const expected = readJson(fixture('safetensors', 'tiny-model-bf16.expected.json'));
  const r = openSafetensors(GOLDEN);
  t.deepEqual(r.metadata, expected.metadata);
  t.deepEqual(r.keys(), Object.keys(expected.tensors).sort());
  for (const [name, e] of Object.entries(expected.tensors)) {
    t.is(FILE_DTYPE[r.info(name).dtype], e.dtype, name);
    t.deepEqual(r.info(name).shape, e.shape, name);
    const x = r.get(name);
    const v = x.toArray();
    t.deepEqual([...v.subarray(0, 3)], e.first, `${name} first values`);
    t.deepEqual([...v.subarray(v.length - 3)], e.last, `${name} last values`);
    let sum = 0;
    for (const y of v) sum += y;
    // numpy used an exactly rounded sum; ours is naive, so allow rounding error of the sum
    t.true(Math.abs(sum - e.sum) <= 1e-12 * v.length * (1 + Math.abs(e.sum)) + 1e-9, `${name} sum ${sum} vs ${e.sum}`);
  }
});

test('mapped tensors are zero-copy views that outlive close(); the file is never written', (t) => {
  const tmp = tempDir();
  try {
    const file = writeRaw(tmp.path('z.safetensors'), { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } },
      new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer));
    const before = readFileSync(file);
    const r = openSafetensors(file);
    const first = r.get('w');
    first.write(new Float32Array([9, 9, 9, 9]));
    // A second get sees the write: both are views of the same mapped pages, no copy was made.
    const second = r.get('w');
    t.deepEqual([...second.toArray()], [9, 9, 9, 9]);
    r.close();
    t.deepEqual([...first.toArray()], [9, 9, 9, 9], 'still readable after close()');
    t.throws(() => r.get('w'), { instanceOf: SafetensorsError, message: /was closed/ });
    first.dispose();
    t.deepEqual([...second.toArray()], [9, 9, 9, 9], 'mapping alive while any view is');
    second.dispose();
    t.deepEqual(readFileSync(file), before, 'private mapping: the file is unchanged');
    const fresh = openSafetensors(file);
    const w = fresh.get('w');
    t.deepEqual([...w.toArray()], [1, 2, 3, 4]);
  } finally {
    tmp.cleanup();
  }
});

test('unaligned tensor data is copied, with the right values', (t) => {
  const tmp = tempDir();
  try {
    const data = new Uint8Array(1 + 8 + 2);
    data[0] = 42;
    new DataView(data.buffer).setFloat64(1, -1.25, true);
    new DataView(data.buffer).setInt16(9, -300, true);
    // header padded to 8, so the F64 starts at an odd file offset
    const file = writeRaw(tmp.path('u.safetensors'), {
      a: { dtype: 'U8', shape: [], data_offsets: [0, 1] },
      b: { dtype: 'F64', shape: [1], data_offsets: [1, 9] },
      c: { dtype: 'I16', shape: [1, 1], data_offsets: [9, 11] },
    }, data);
    const r = openSafetensors(file);
    const b1 = r.get('b');
    t.deepEqual([...b1.toArray()], [-1.25]);
    b1.write(new Float64Array([7]));
    const b2 = r.get('b');
    t.deepEqual([...b2.toArray()], [-1.25], 'a copy: the write to b1 is not shared');
    const c = r.get('c');
    t.deepEqual([...c.toArray()], [-300]);
    const a = r.get('a');
    t.deepEqual([...a.toArray()], [42]);
  } finally {
    tmp.cleanup();
  }
});

// ---------------------------------------------------------------- sharded checkpoints

test('sharded index: lazy shards, metadata, folder open, missing shard names index, shard and tensor', async (t) => {
  const tmp = tempDir();
  const a = Tensor.from(new Float32Array([1, 2, 3]), [3]);
  const b = Tensor.from(new BigInt64Array([5n]), []);
  const c = Tensor.from(new Uint16Array([0x4000, 0xc000]), [2], { dtype: 'bfloat16' });
  try {
    await saveSafetensors(tmp.path('model-00001-of-00002.safetensors'), { a, b });
    await saveSafetensors(tmp.path('model-00002-of-00002.safetensors'), { c });
    const index = tmp.path('model.safetensors.index.json');
    writeFileSync(index, JSON.stringify({
      metadata: { total_size: 32, format: 'pt' },
      weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' },
    }));
    for (const path of [index, tmp.dir]) {
      const r = openSafetensors(path);
      t.deepEqual(r.keys(), ['a', 'b', 'c']);
      t.deepEqual(r.metadata, { total_size: '32', format: 'pt' });
      t.deepEqual(r.info('c'), { dtype: 'bfloat16', shape: [2], byteLength: 4 });
      const ra = r.get('a'), rb = r.get('b'), rc = r.get('c');
      t.deepEqual([...ra.toArray()], [1, 2, 3]);
      t.deepEqual([...rb.toArray()], [5n]);
      t.deepEqual([...rc.toArray()], [2, -2]);
      t.throws(() => r.get('nope'), { message: /no tensor named 'nope'/ });
    }
    // Missing shard: opening the index is fine (lazy), the tensors of the present shard read,
    // and reading from the missing one names the index, the shard file and the tensor.
    renameSync(tmp.path('model-00002-of-00002.safetensors'), tmp.path('moved.safetensors'));
    const r = openSafetensors(index);
    const ra = r.get('a');
    t.deepEqual([...ra.toArray()], [1, 2, 3]);
    const err = t.throws(() => r.get('c'), { instanceOf: SafetensorsError });
    t.true(err.message.includes(index), err.message);
    t.true(err.message.includes('model-00002-of-00002.safetensors'), err.message);
    t.true(err.message.includes("'c'"), err.message);
    t.regex(err.message, /does not exist/);
    // The index names a tensor its shard does not hold
    writeFileSync(index, JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', z: 'model-00001-of-00002.safetensors' } }));
    const r2 = openSafetensors(index);
    t.throws(() => r2.get('z'), { message: /puts tensor 'z' in shard model-00001-of-00002.safetensors, but that shard has no such tensor/ });
    // Bad index files
    const bad = (json, re) => {
      writeFileSync(index, json);
      const e = t.throws(() => openSafetensors(index), { instanceOf: SafetensorsError, message: re });
      t.true(e.message.includes(index));
    };
    bad('{"weight_map": ', /not valid JSON/);
    bad('[]', /not an object/);
    bad('{}', /no "weight_map" object/);
    bad('{"weight_map": {"a": 3}}', /entry for 'a' is not a file name/);
    bad('{"weight_map": {"a": "../x.safetensors"}}', /outside the index's folder/);
    bad('{"weight_map": {"a": "/etc/x.safetensors"}}', /outside the index's folder/);
  } finally {
    [a, b, c].forEach((x) => x.dispose());
    tmp.cleanup();
  }
});

// ---------------------------------------------------------------- validation

const F32x2 = (offsets = [0, 8], shape = [2]) => ({ dtype: 'F32', shape, data_offsets: offsets });

/** [what, file bytes, message pattern, tensor the error should name] */
const BAD_FILES = [
  ['empty file', Buffer.alloc(0), /0 bytes long, shorter than the 8-byte header length/],
  ['file shorter than 8 bytes', Buffer.from([1, 0, 0]), /3 bytes long, shorter than the 8-byte/],
  ['header length beyond the file', rawFile({ x: F32x2() }, new Uint8Array(8), { headerLength: 4096 }), /header length 4096 runs past the end of the \d+-byte file/],
  ['absurd header length', rawFile({}, new Uint8Array(0), { headerLength: 2 ** 40 }), /header length 1099511627776 is larger than the 100000000-byte limit/],
  ['u64 header length', Buffer.from([255, 255, 255, 255, 255, 255, 255, 255]), /header length 18446744073709551615 is larger/],
  ['malformed JSON', rawFile('{"x": {"dtype": "F32",', new Uint8Array(0)), /header is not valid JSON/],
  ['invalid UTF-8', (() => { const b = rawFile('{"abc": {}}'); b[10] = 0xff; return b; })(), /header is not valid UTF-8/],
  ['header not an object', rawFile('[1, 2]'), /header JSON is not an object/],
  ['header is a string', rawFile('"abc"'), /header JSON is not an object/],
  ['entry not an object', rawFile({ x: [1] }), /tensor 'x': header entry is not an object/, 'x'],
  ['missing dtype', rawFile({ x: { shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor 'x': header entry has no dtype/, 'x'],
  ['missing shape', rawFile({ x: { dtype: 'F32', data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor 'x': header entry has no shape/, 'x'],
  ['missing data_offsets', rawFile({ x: { dtype: 'F32', shape: [2] } }, new Uint8Array(8)), /tensor 'x': header entry has no data_offsets/, 'x'],
  ['dtype not a string', rawFile({ x: { ...F32x2(), dtype: 4 } }, new Uint8Array(8)), /dtype is not a string/, 'x'],
  ['shape not an array', rawFile({ x: { ...F32x2(), shape: 2 } }, new Uint8Array(8)), /shape is not an array/, 'x'],
  ['unknown dtype', rawFile({ x: { ...F32x2(), dtype: 'F128' } }, new Uint8Array(8)), /unknown dtype 'F128'/, 'x'],
  ['lowercase dtype', rawFile({ x: { ...F32x2(), dtype: 'f32' } }, new Uint8Array(8)), /unknown dtype 'f32'/, 'x'],
  ['negative dimension', rawFile({ x: F32x2([0, 8], [-2]) }, new Uint8Array(8)), /shape \[-2\] has a dimension that is not a non-negative integer/, 'x'],
  ['non-integer dimension', rawFile({ x: F32x2([0, 8], [2.5]) }, new Uint8Array(8)), /has a dimension that is not a non-negative integer/, 'x'],
  ['string dimension', rawFile({ x: F32x2([0, 8], ['2']) }, new Uint8Array(8)), /has a dimension that is not a non-negative integer/, 'x'],
  ['data_offsets not a pair', rawFile({ x: F32x2([8]) }, new Uint8Array(8)), /data_offsets \[8\] is not \[begin, end\]/, 'x'],
  ['data_offsets with strings', rawFile({ x: F32x2([0, '8']) }, new Uint8Array(8)), /is not \[begin, end\] with non-negative integers/, 'x'],
  ['data_offsets negative', rawFile({ x: F32x2([-8, 0]) }, new Uint8Array(8)), /is not \[begin, end\] with non-negative integers/, 'x'],
  ['data_offsets fractional', rawFile({ x: F32x2([0, 7.5]) }, new Uint8Array(8)), /is not \[begin, end\] with non-negative integers/, 'x'],
  ['data_offsets beyond 2^53', rawFile('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551624]}}', new Uint8Array(8)), /is not \[begin, end\]/, 'x'],
  ['begin after end', rawFile({ x: F32x2([8, 0]) }, new Uint8Array(8)), /data_offsets \[8, 0\] has begin after end/, 'x'],
  ['end beyond the data section', rawFile({ x: F32x2([0, 8]) }, new Uint8Array(4)), /data_offsets \[0, 8\] runs past the end of the 4-byte data section/, 'x'],
  ['shape x dtype size differs from the byte range', rawFile({ x: F32x2([0, 8], [3]) }, new Uint8Array(8)), /shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] hold 8/, 'x'],
  ['shape too large', rawFile({ x: F32x2([0, 8], [2 ** 30, 2 ** 30]) }, new Uint8Array(8)), /shape \[1073741824, 1073741824\] is too large/, 'x'],
  ['overlapping tensors', rawFile({ x: F32x2([0, 8]), y: F32x2([4, 12]) }, new Uint8Array(12)), /tensor 'y' \[4, 12\] overlaps tensor 'x' \[0, 8\]/, 'y'],
  ['duplicate ranges', rawFile({ x: F32x2([0, 8]), y: F32x2([0, 8]) }, new Uint8Array(16)), /overlaps tensor/],
  ['gap between tensors', rawFile({ x: F32x2([0, 8]), y: F32x2([12, 20]) }, new Uint8Array(20)), /4 unused bytes after tensor 'x', before tensor 'y'/, 'y'],
  ['gap at the start', rawFile({ x: F32x2([8, 16]) }, new Uint8Array(16)), /8 unused bytes at the start of the data section, before tensor 'x'/, 'x'],
  ['unused bytes at the end', rawFile({ x: F32x2([0, 8]) }, new Uint8Array(9)), /1 unused bytes at the end of the data section/],
  ['data but no tensors', rawFile({}, new Uint8Array(3)), /3 unused bytes at the end of the data section/],
  ['__metadata__ with a number', rawFile({ __metadata__: { a: 1 } }), /__metadata__ value 'a' is not a string/],
  ['__metadata__ an array', rawFile({ __metadata__: ['a'] }), /__metadata__ is not an object of strings/],
  ['__metadata__ a string', rawFile({ __metadata__: 'a' }), /__metadata__ is not an object of strings/],
];

test('each malformed file gives a clear SafetensorsError naming the file (and tensor)', (t) => {
  const tmp = tempDir();
  try {
    BAD_FILES.forEach(([what, bytes, re, tensor], i) => {
      const file = tmp.path(`bad-${i}.safetensors`);
      writeFileSync(file, bytes);
      const err = t.throws(() => openSafetensors(file), { instanceOf: SafetensorsError }, what);
      if (!err) return;
      t.regex(err.message, re, what);
      t.true(err.message.startsWith(`${file}: `), `${what}: ${err.message}`);
      t.is(err.file, file, what);
      if (tensor) t.is(err.tensor, tensor, what);
    });
  } finally {
    tmp.cleanup();
  }
});

test('accepted edge cases the reference library also accepts', (t) => {
  const tmp = tempDir();
  try {
    // unpadded header, null __metadata__, zero-size tensors sharing an offset, extra entry keys
    const file = writeRaw(tmp.path('ok.safetensors'), {
      __metadata__: null,
      e: { dtype: 'F32', shape: [0, 4], data_offsets: [4, 4] },
      a: { dtype: 'I32', shape: [], data_offsets: [0, 4], extra: 'ignored' },
      z: { dtype: 'U8', shape: [0], data_offsets: [4, 4] },
    }, new Uint8Array(new Int32Array([-5]).buffer), { pad: false });
    const r = openSafetensors(file);
    t.deepEqual(r.metadata, {});
    t.deepEqual(r.keys(), ['a', 'e', 'z']);
    const a = r.get('a'), e = r.get('e');
    t.deepEqual([...a.toArray()], [-5]);
    t.deepEqual([...e.shape], [0, 4]);
  } finally {
    tmp.cleanup();
  }
});

test('valid dtypes we cannot hold, too many dimensions, unknown names, missing files', (t) => {
  const tmp = tempDir();
  try {
    const file = writeRaw(tmp.path('u32.safetensors'), {
      q: { dtype: 'U32', shape: [2], data_offsets: [0, 8] },
      f: { dtype: 'F32', shape: [1, 1, 1, 1, 1, 1, 1], data_offsets: [8, 12] },
    }, new Uint8Array(12));
    const r = openSafetensors(file);
    t.deepEqual(r.keys(), ['f', 'q']);
    t.throws(() => r.get('q'), { instanceOf: SafetensorsError, message: /tensor 'q' has dtype U32, which gmai-vl-r1 cannot hold/ });
    t.throws(() => r.info('q'), { message: /U32/ });
    t.throws(() => r.get('f'), { message: /tensor 'f' has 7 dimensions; at most 6/ });
    t.deepEqual(r.info('f').shape, [1, 1, 1, 1, 1, 1, 1]);
    t.throws(() => r.get('nope'), { instanceOf: SafetensorsError, message: /no tensor named 'nope'/ });
    const missing = tmp.path('missing.safetensors');
    t.throws(() => openSafetensors(missing), { instanceOf: SafetensorsError, message: new RegExp(`^${missing}: cannot open the file: No such file`) });
    mkdirSync(tmp.path('folder.safetensors'));
    t.throws(() => openSafetensors(tmp.path('folder.safetensors')), { message: /model\.safetensors: cannot open the file/ });
    t.throws(() => openSafetensors(''), { instanceOf: TypeError });
  } finally {
    tmp.cleanup();
  }
});

// ---------------------------------------------------------------- failed saves

test('a failed save leaves an existing file untouched and no temporary files', async (t) => {
  const tmp = tempDir();
  const target = tmp.path('ckpt.safetensors');
  const old = Tensor.from(new Float32Array([1, 2]), [2]);
  try {
    await saveSafetensors(target, { old });
    const before = readFileSync(target);

    // disposed mid-way: the save has started (header planned) when the tensor goes away
    const a = Tensor.from(new Float32Array(1000).fill(3), [1000]);
    const b = Tensor.from(new Float32Array(1000).fill(4), [1000]);
    const saving = saveSafetensors(target, { a, b });
    b.dispose();
    const err = await t.throwsAsync(saving, { message: /used after dispose/ });
    t.true(err.message.includes(target), err.message);
    a.dispose();
    t.deepEqual(readFileSync(target), before);

    // disposed before the call
    await t.throwsAsync(saveSafetensors(target, { b }), { instanceOf: SafetensorsError, message: /tensor 'b' was disposed/ });
    t.deepEqual(readFileSync(target), before);

    // folder that does not exist
    const nowhere = tmp.path('no', 'such', 'dir', 'x.safetensors');
    await t.throwsAsync(saveSafetensors(nowhere, { old }), { message: new RegExp(`could not write '${nowhere}'.*ENOENT`) });

    t.deepEqual(readdirSync(tmp.dir), ['ckpt.safetensors'], 'no temporary files left behind');
    const r = openSafetensors(target);
    const o = r.get('old');
    t.deepEqual([...o.toArray()], [1, 2]);
  } finally {
    old.dispose();
    tmp.cleanup();
  }
});

test('writeFileAtomic: strings, buffers, sync and async chunks; producer errors keep the old file', async (t) => {
  const tmp = tempDir();
  const f = tmp.path('a.txt');
  try {
    await writeFileAtomic(f, 'héllo');
    t.is(readFileSync(f, 'utf8'), 'héllo');
    await writeFileAtomic(f, new Uint8Array([65, 66]));
    t.is(readFileSync(f, 'utf8'), 'AB');
    await writeFileAtomic(f, ['x', new Uint8Array([89]), 'z']);
    t.is(readFileSync(f, 'utf8'), 'xYz');
    await writeFileAtomic(f, (async function* () { yield 'as'; yield 'ync'; })());
    t.is(readFileSync(f, 'utf8'), 'async');
    const failing = (function* () { yield 'partial'; throw new Error('producer broke'); })();
    await t.throwsAsync(writeFileAtomic(f, failing), { message: new RegExp(`could not write '${f}': producer broke`) });
    t.is(readFileSync(f, 'utf8'), 'async');
    t.deepEqual(readdirSync(tmp.dir), ['a.txt']);
  } finally {
    tmp.cleanup();
  }
});
