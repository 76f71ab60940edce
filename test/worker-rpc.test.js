import test from 'ava';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WorkerClient } from '../dist/infer/worker-rpc.js';

const url = new URL('./workers/echo-worker.js', import.meta.url);

test('calls, streams, errors and aborts cross the worker boundary', async (t) => {
  const c = new WorkerClient(url);
  try {
    t.is(await c.call('add', [2, 3]), 5);
    await t.throwsAsync(c.call('fail'), { name: 'RangeError', message: 'bad thing in worker' });
    await t.throwsAsync(c.call('nope'), { message: /unknown method 'nope'/ });
    const chunks = [];
    const it = c.stream('count', [5]);
    let r;
    while (!(r = await it.next()).done) chunks.push(r.value);
    t.deepEqual(chunks, [0, 1, 2, 3, 4]);
    t.is(r.value, 'done');
    const ac = new AbortController();
    const seen = [];
    const aborted = c.stream('count', [100000], { signal: ac.signal });
    for await (const x of aborted) { seen.push(x); if (x === 3) ac.abort(); }
    t.true(seen.length < 1000, `stream stopped after ${seen.length} chunks`);
  } finally {
    await c.close();
  }
});

test('the native addon loads in several workers at once', async (t) => {
  const clients = [new WorkerClient(url), new WorkerClient(url), new WorkerClient(url)];
  try {
    const sums = await Promise.all(clients.map((c) => c.call('matmulSum', [64])));
    t.deepEqual(sums, [64 ** 3, 64 ** 3, 64 ** 3]);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
});

test('busy work in the worker leaves the main event loop responsive', async (t) => {
  const c = new WorkerClient(url);
  const h = monitorEventLoopDelay({ resolution: 1 });  // the figure includes the sampling interval
  h.enable();
  try {
    await c.call('busy', [400]);
  } finally {
    h.disable();
    await c.close();
  }
  const p99 = h.percentile(99) / 1e6;
  t.log(`event-loop delay p99 while the worker was busy: ${p99.toFixed(1)} ms`);
  t.true(p99 < 20, `p99 ${p99} ms`);
});
