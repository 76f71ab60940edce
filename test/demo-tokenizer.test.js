// The demo model's tokenizer: byte-level BPE merges learned from the synthetic data set's texts
// (lib/demo/bpe.ts), read back through Hugging Face's tokenizer implementation.
import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { learnMerges } from '../dist/demo/bpe.js';
import { writeTinyModel } from '../dist/demo/tiny-model.js';
import { syntheticCorpus } from '../dist/data/synthetic/tasks.js';
import { Tokenizer } from '../dist/processing/tokenizer.js';

const alphabet = Array.from({ length: 256 }, (_, b) => String.fromCodePoint(b + 256));

test('learnMerges: most frequent pair first, ties to the pair seen first, stops below minCount', (t) => {
  const s = (text) => Array.from(text, (c) => alphabet[c.charCodeAt(0)]);
  // "ab" ×3 (in "ab ab ab" → words "ab", " ab", " ab"), "cd" once: only pairs seen ≥ 2 times merge.
  const merges = learnMerges(['ab ab ab cd'], alphabet, 10);
  const [a, b, sp] = s('ab ');
  t.is(merges[0], `${a} ${b}`);
  t.is(merges[1], `${sp} ${a + b}`);
  t.is(merges.length, 2);
  t.deepEqual(learnMerges(['ab ab ab cd'], alphabet, 1), [merges[0]], 'count caps the merges');
  t.deepEqual(learnMerges(['ab ab ab cd'], alphabet, 10), merges, 'deterministic');
  t.deepEqual(learnMerges([], alphabet, 10), []);
});

test('the demo tokenizer round-trips every synthetic text and any other text, in fewer tokens than bytes', async (t) => {
  const dir = await writeTinyModel(join(mkdtempSync(join(tmpdir(), 'gmai-bpe-')), 'm'), { seed: 1, corpus: syntheticCorpus(), mergeCount: 300 });
  const tok = Tokenizer.fromDir(dir);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  t.is(config.vocab_size, 256 + 300 + 8);
  t.is(tok.tokenToId('<|im_end|>'), 256 + 300 + 2);
  t.is(config.eos_token_id, 256 + 300 + 2);
  let bytes = 0, tokens = 0;
  for (const text of syntheticCorpus()) {
    const ids = tok.encode(text);
    t.is(tok.decode(ids), text);
    bytes += Buffer.byteLength(text);
    tokens += ids.length;
  }
  t.true(tokens * 3 < bytes, `${tokens} tokens for ${bytes} bytes`);
  for (const text of ['Ünïcødé → 肺 ✓', 'x'.repeat(50), '<think>?</think><answer>Z</answer>', '']) t.is(tok.decode(tok.encode(text)), text);
});
