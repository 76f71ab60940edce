// attentionBackward with 6 threads: more threads than (sequence, kv head) pairs takes the split
// schedule (dk/dv per key block, then dq per query block), many pairs the fused one; both must
// give the float64 gradients. GMAI_NUM_THREADS is read when the addon loads, so it is set
// before the (dynamic) import; this file runs in its own process.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { attentionBackwardDigest, checkAttentionBackward, largeBackwardCases } from './attention-helpers.js';
import { freshSeed } from './helpers.js';

process.env.GMAI_NUM_THREADS = '6';
const { Tensor, ops, runtimeInfo } = await import('../dist/index.js');
const { native } = await import('../dist/native.js');

test('the pool has 6 threads', (t) => {
  t.is(runtimeInfo().threads, 6);
});

test('analytic float64 backward with 6 threads: split and fused schedules', (t) => {
  for (const c of largeBackwardCases) checkAttentionBackward({ Tensor, ops, native }, t, { ...c, reference: 'analytic' });
  checkAttentionBackward({ Tensor, ops, native }, t, {
    lensQ: [5, 1, 3], lensK: [5, 2, 3], Hq: 2, Hkv: 1, D: 6, causal: true, packed: true, reference: 'fd', label: 'finite differences, packed causal',
  });
});

test('the same bits with 6 threads as with 1 (each output written by one work item, in a fixed order)', async (t) => {
  const seed = freshSeed();
  const here = attentionBackwardDigest({ Tensor, ops }, seed);
  const worker = new URL('./workers/attention-backward-digest.js', import.meta.url).pathname;
  const { stdout } = await promisify(execFile)(process.execPath, [worker, String(seed)], { env: { ...process.env, GMAI_NUM_THREADS: '1' } });
  t.is(stdout, here, `seed ${seed}: dq, dk, dv differ between 6 threads and 1`);
});
