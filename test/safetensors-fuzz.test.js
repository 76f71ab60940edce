// Fuzzing the reader: valid files mutated thousands of times (byte flips in the length field and
// header, truncation, appended bytes, JSON edits of offsets, shapes, dtypes and metadata).
// Every outcome must be either a SafetensorsError whose message starts with the file name, or a
// successful open where every tensor reads exactly the bytes its header entry points at.
// A crash (SIGSEGV/SIGBUS) would take the test worker down and fail the run.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';

import { SafetensorsError, Tensor, openSafetensors, saveSafetensors } from '../dist/index.js';
import { freshSeed, rng } from './helpers.js';
import { rawFile, splitFile, tempDir } from './safetensors-helpers.js';

const ITERATIONS = 5000;
const DTYPES = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'U32', 'F8_E4M3', 'F128', 'f32', '', 7, null];

async function baseFiles(tmp, r) {
  const t = [
    Tensor.from(Float64Array.from({ length: 5 }, () => r.normal()), [5]),
    Tensor.from(Float32Array.from({ length: 6 }, () => r.normal()), [2, 3]),
    Tensor.from(Uint16Array.from({ length: 3 }, () => r.int(65536)), [3], { dtype: 'bfloat16' }),
    Tensor.from(new Int8Array([1, -2, 3]), [1, 3]),
    Tensor.from(new Uint8Array([1]), [], { dtype: 'bool' }),
    Tensor.from(new Int32Array(0), [0, 2]),
    Tensor.from(new BigInt64Array([7n, -9n]), [2, 1, 1]),
  ];
  try {
    await saveSafetensors(tmp.path('base-a.safetensors'), { a: t[0], b: t[1], c: t[2], d: t[3], e: t[4], f: t[5], g: t[6] }, { format: 'pt' });
    await saveSafetensors(tmp.path('base-b.safetensors'), { w: t[1] });
  } finally {
    t.forEach((x) => x.dispose());
  }
  // an unaligned, unpadded one, written by hand
  const data = new Uint8Array(1 + 4 + 2);
  const unaligned = rawFile({
    u: { dtype: 'U8', shape: [1], data_offsets: [0, 1] },
    v: { dtype: 'F32', shape: [1], data_offsets: [1, 5] },
    x: { dtype: 'F16', shape: [], data_offsets: [5, 7] },
  }, data, { pad: false });
  return [readFileSync(tmp.path('base-a.safetensors')), readFileSync(tmp.path('base-b.safetensors')), unaligned];
}

/** Random edits of one header entry (or of the header as a whole). */
function editHeader(header, r) {
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const pick = (a) => a[r.int(a.length)];
  const name = names.length ? pick(names) : 'new';
  if (typeof header[name] !== 'object' || header[name] === null || Array.isArray(header[name])) {
    header[name] = { dtype: 'F32', shape: [1], data_offsets: [0, 4] };  // an earlier edit broke it
  }
  const entry = header[name];
  const wild = () => pick([0, 1, 2, 3, 7, 8, -1, -8, 0.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, 1e300, '4', null, [], {}, true]);
  const near = (x) => (typeof x === 'number' ? x + r.int(17) - 8 : wild());
  switch (r.int(12)) {
    case 0: entry.data_offsets = [near(entry.data_offsets?.[0]), entry.data_offsets?.[1]]; break;
    case 1: entry.data_offsets = [entry.data_offsets?.[0], near(entry.data_offsets?.[1])]; break;
    case 2: entry.data_offsets = pick([[wild(), wild()], [wild()], [0, 1, 2], wild(), 'x']); break;
    case 3: entry.shape = Array.isArray(entry.shape) ? entry.shape.map((d) => (r.next() < 0.5 ? near(d) : d)) : [wild()]; break;
    case 4: entry.shape = Array.from({ length: r.int(9) }, () => (r.next() < 0.7 ? r.int(4) : wild())); break;
    case 5: entry.shape = pick([[], [0], [2 ** 53, 0], [0, 9007199254740993], 3, 'x', null]); break;
    case 6: entry.dtype = pick(DTYPES); break;
    case 7: delete entry[pick(['dtype', 'shape', 'data_offsets'])]; break;
    case 8: header[name] = wild(); break;
    case 9: header.__metadata__ = pick([{ a: 'b' }, { a: 1 }, [], 'x', null, { b: { c: 'd' } }]); break;
    case 10: header[`${name}.copy`] = { ...entry }; break;  // duplicate range
    case 11: { const other = pick(names); if (other) [header[name], header[other]] = [header[other], header[name]]; break; }
  }
}

function mutate(base, r) {
  const bytes = Buffer.from(base);
  const n = Number(bytes.readBigUInt64LE(0));
  switch (r.int(7)) {
    case 0: {  // flip bytes in the length field
      for (let k = 1 + r.int(2); k > 0; k--) bytes[r.int(8)] ^= 1 << r.int(8);
      return bytes;
    }
    case 1: {  // length field off by a little
      bytes.writeBigUInt64LE(BigInt(Math.max(0, n + r.int(33) - 16)), 0);
      return bytes;
    }
    case 2: {  // flip bytes in the header JSON
      for (let k = 1 + r.int(4); k > 0; k--) bytes[8 + r.int(n)] = r.next() < 0.5 ? r.int(256) : bytes[8 + r.int(n)];
      return bytes;
    }
    case 3:  // truncate anywhere
      return bytes.subarray(0, r.int(bytes.length));
    case 4:  // append bytes
      return Buffer.concat([bytes, Buffer.alloc(1 + r.int(16), r.int(256))]);
    default: {  // JSON edits, re-encoded with the original data section
      const { header, data } = splitFile(bytes);
      for (let k = 1 + r.int(2); k > 0; k--) editHeader(header, r);
      return rawFile(header, data, { pad: r.next() < 0.8 });
    }
  }
}

/** Opens `file`; checks the outcome is a clean error or a fully readable, in-bounds file. */
function check(t, file, bytes) {
  let reader;
  try {
    reader = openSafetensors(file);
  } catch (e) {
    if (!(e instanceof SafetensorsError) || !e.message.startsWith(`${file}: `)) {
      t.fail(`unclean error: ${e && e.stack}`);
    }
    return 'rejected';
  }
  // Accepted: the header must be what we think, and each tensor must hold its bytes exactly.
  const { n, header } = splitFile(bytes);
  try {
    for (const name of reader.keys()) {
      const e = header[name];
      const begin = 8 + n + e.data_offsets[0], end = 8 + n + e.data_offsets[1];
      if (end > bytes.length) t.fail(`accepted tensor '${name}' past the end of the file`);
      let x;
      try {
        x = reader.get(name);
      } catch (err) {
        if (!(err instanceof SafetensorsError) || !err.message.startsWith(`${file}: `)) t.fail(`unclean get error: ${err && err.stack}`);
        continue;
      }
      const got = x.toBytes();
      x.dispose();
      if (!Buffer.from(got).equals(bytes.subarray(begin, end))) t.fail(`tensor '${name}' read the wrong bytes`);
    }
  } finally {
    reader.close();
  }
  return 'accepted';
}

test(`fuzz: ${ITERATIONS} mutated files give clean errors or in-bounds reads`, async (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  const tmp = tempDir('gmai-st-fuzz-');
  try {
    const bases = await baseFiles(tmp, r);
    bases.forEach((b, i) => t.is(check(t, tmp.path(`check-${i}.safetensors`), (writeFileSync(tmp.path(`check-${i}.safetensors`), b), b)), 'accepted'));
    const file = tmp.path('mutant.safetensors');
    const counts = { accepted: 0, rejected: 0 };
    const started = Date.now();
    for (let i = 0; i < ITERATIONS; i++) {
      const bytes = mutate(bases[r.int(bases.length)], r);
      writeFileSync(file, bytes);
      counts[check(t, file, bytes)]++;
    }
    t.log(`${counts.accepted} accepted, ${counts.rejected} rejected in ${Date.now() - started} ms`);
    // Both outcomes must occur, or the mutations are not exercising the reader.
    t.true(counts.accepted > ITERATIONS / 50);
    t.true(counts.rejected > ITERATIONS / 2);
  } finally {
    tmp.cleanup();
  }
});
