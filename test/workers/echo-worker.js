// Test worker: a few handlers exercising results, streams, errors, aborts and the addon.
import { serveWorker } from '../../dist/infer/worker-rpc.js';
import { Tensor, ops } from '../../dist/index.js';

serveWorker({
  add: (_ctx, a, b) => a + b,
  fail: () => { throw new RangeError('bad thing in worker'); },
  count: async (ctx, n) => {
    for (let i = 0; i < n; i++) {
      if (ctx.signal.aborted) return 'aborted';
      ctx.emit(i);
      await new Promise((r) => setTimeout(r, 1));
    }
    return 'done';
  },
  busy: (_ctx, ms) => { const end = Date.now() + ms; while (Date.now() < end); return 'ok'; },
  matmulSum: (_ctx, n) => {
    const a = Tensor.full([n, n], 1);
    const c = ops.matmul(a, a);
    const s = c.toArray().reduce((x, y) => x + y, 0);
    a.dispose(); c.dispose();
    return s;
  },
});
