// Decode attention with more threads than kv heads: the lane kernel splits each query block's
// keys into chunks (at least 256 keys each), runs them on different threads and merges the
// partial results. GMAI_NUM_THREADS is read when the addon loads, so it is set before the
// (dynamic) import; this file runs in its own process.
import test from 'ava';
import { checkAttention } from './attention-helpers.js';

process.env.GMAI_NUM_THREADS = '6';
const addon = await import('../dist/index.js');
const check = (t, c) => checkAttention(addon, t, c);

test('the pool has more threads than the kv heads below', (t) => {
  t.is(addon.runtimeInfo().threads, 6);
});

test('decode over long caches: key ranges split into chunks and merged', (t) => {
  check(t, { lensQ: [1], lensK: [1031], Hq: 14, Hkv: 2, D: 64, causal: true, label: 'decode over 1031 (3 chunks)' });
  check(t, { lensQ: [1], lensK: [600], Hq: 4, Hkv: 4, D: 16, causal: false, label: 'decode over 600, no GQA (2 chunks)' });
  check(t, { lensQ: [2], lensK: [777], Hq: 14, Hkv: 2, D: 64, causal: true, label: 'two queries (14 lanes) over 777 (3 chunks)' });
  check(t, { lensQ: [1, 1], lensK: [700, 5], Hq: 8, Hkv: 1, D: 16, causal: true, label: 'packed decode: a split long sequence next to a short one' });
  check(t, { lensQ: [3], lensK: [2], Hq: 2, Hkv: 1, D: 16, causal: true, label: 'queries that see nothing' });
  check(t, { lensQ: [5], lensK: [3], Hq: 2, Hkv: 1, D: 16, causal: true, label: 'more queries than keys (first rows see nothing)' });
});

