// The generation engine over a toy backend: next token = (last + 1) mod V, greedy.
import test from 'ava';
import { GenerationEngine } from '../dist/infer/engine.js';

const V = 10;
function toyBackend() {
  const caches = new Map();
  let next = 1;
  const calls = { prefill: 0, decodeBatches: [] };
  const logitsFor = (last) => { const l = new Float32Array(V).fill(-5); l[(last + 1) % V] = 5; return l; };
  return {
    calls, caches,
    vocabSize: V,
    prefill(prompt) {
      calls.prefill++;
      if (prompt.length === 0) throw new Error('empty prompt');
      const seq = next++;
      caches.set(seq, [...prompt]);
      return { seq, logits: logitsFor(prompt[prompt.length - 1]) };
    },
    fork(seq, n) {
      return Array.from({ length: n }, () => { const s = next++; caches.set(s, [...caches.get(seq)]); return s; });
    },
    decode(seqs, tokens) {
      calls.decodeBatches.push(seqs.length);
      const out = new Float32Array(seqs.length * V);
      seqs.forEach((s, i) => { caches.get(s).push(tokens[i]); out.set(logitsFor(tokens[i]), i * V); });
      return out;
    },
    release(seq) { caches.delete(seq); },
  };
}
const greedy = (logits, rows) => {
  const tokens = new Int32Array(rows), logprobs = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * V, (r + 1) * V);
    let best = 0;
    for (let j = 1; j < V; j++) if (row[j] > row[best]) best = j;
    const lse = Math.log(row.reduce((s, x) => s + Math.exp(x), 0));
    tokens[r] = best; logprobs[r] = row[best] - lse;
  }
  return { tokens, logprobs };
};
const digits = () => { let pending = ''; return { push: (id) => String(id), flush: () => pending }; };

test('greedy generation stops at a stop token, at maxNewTokens, or at a stop string', async (t) => {
  const b = toyBackend();
  const e = new GenerationEngine(b, greedy, digits);
  const [r1] = await e.generate({ prompt: [3], maxNewTokens: 20, stopTokenIds: [7] });
  t.deepEqual(r1.tokens, [4, 5, 6, 7]);
  t.is(r1.text, '456');
  t.is(r1.finishReason, 'stop');
  const [r2] = await e.generate({ prompt: [0], maxNewTokens: 3, stopTokenIds: [] });
  t.deepEqual(r2.tokens, [1, 2, 3]);
  t.is(r2.finishReason, 'length');
  const [r3] = await e.generate({ prompt: [0], maxNewTokens: 9, stopTokenIds: [], stopStrings: ['45'] });
  t.is(r3.text, '123');
  t.is(r3.finishReason, 'stop');
  t.is(b.caches.size, 0, 'every cache released');
  for (const x of [r1, r2, r3]) t.true(x.logprobs.every((lp) => lp < 0 && lp > -1e-3));
});

test('G samples share one prefill; concurrent requests share decode steps', async (t) => {
  const b = toyBackend();
  const e = new GenerationEngine(b, greedy, digits);
  const seqs = await e.generate({ prompt: [1], maxNewTokens: 4, stopTokenIds: [], numReturnSequences: 4 });
  t.is(b.calls.prefill, 1);
  t.is(seqs.length, 4);
  t.true(seqs.every((s) => s.tokens.join() === '2,3,4,5'));
  b.calls.decodeBatches.length = 0;
  const all = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((p) => e.generate({ prompt: [p], maxNewTokens: 5, stopTokenIds: [] })));
  t.is(all.length, 8);
  t.true(Math.max(...b.calls.decodeBatches) === 8, `decode batches: ${b.calls.decodeBatches}`);
  t.is(b.calls.decodeBatches.length, 4, 'five tokens each = one prefill token + four shared decode steps');
});

test('streaming events, abort, and errors', async (t) => {
  const b = toyBackend();
  const e = new GenerationEngine(b, greedy, digits);
  const events = [];
  await e.generate({ prompt: [0], maxNewTokens: 3, stopTokenIds: [] }, (ev) => events.push(ev));
  t.deepEqual(events.map((x) => x.tokenId), [1, 2, 3]);
  const ac = new AbortController();
  const p = e.generate({ prompt: [0], maxNewTokens: 1000, stopTokenIds: [], signal: ac.signal }, (ev) => { if (ev.tokenId === 5) ac.abort(new Error('user abort')); });
  await t.throwsAsync(p, { message: 'user abort' });
  await t.throwsAsync(e.generate({ prompt: [], maxNewTokens: 3, stopTokenIds: [] }), { message: 'empty prompt' });
  await t.throwsAsync(e.generate({ prompt: [1], maxNewTokens: 3, stopTokenIds: [], numReturnSequences: 0 }), { message: /numReturnSequences/ });
  t.is(b.caches.size, 0);
});

test('suppressed token ids are never generated', async (t) => {
  const b = toyBackend();
  const e = new GenerationEngine(b, greedy, digits);
  const [r] = await e.generate({ prompt: [3], maxNewTokens: 3, stopTokenIds: [], suppressTokenIds: [4] });
  t.false(r.tokens.includes(4));
  t.is(r.tokens.length, 3);
});
