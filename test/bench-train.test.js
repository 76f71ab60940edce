// `gmai bench train`: the figures it writes (never its timings), and the model FLOP count its
// utilisation divides by. The PyTorch peer is left out (--no-peer): tests never need torch.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { TRAIN_SHAPE, decoderStepFlops } from '../dist/bench/train.js';

const run = promisify(execFile);
const gmai = fileURLToPath(new URL('../bin/gmai.js', import.meta.url));
const positive = (x) => Number.isFinite(x) && x > 0;

test('decoder step FLOPs: the hand count of the benchmark shape', (t) => {
  // Per layer: q [256→256], k and v [256→128], o [256→256], gate and up [256→688], down [688→256].
  const layerWeights = 256 * 256 + 2 * 256 * 128 + 256 * 256 + 3 * 256 * 688;
  const tokens = 8 * 256, completion = 8 * 128;
  const matrices = 2 * 4 * layerWeights * tokens + 2 * 4096 * 256 * completion;
  // causal attention: QKᵀ and P·V over 4 heads of 64 (2·64 FLOPs each per pair and head), 4 layers
  const attention = 4 * (2 * 2 * 64 * 4) * 8 * ((256 * 257) / 2);
  t.is(decoderStepFlops(TRAIN_SHAPE, Array(8).fill(256), completion), 3 * (matrices + attention));
  // unequal sequences count their own causal pairs
  t.is(decoderStepFlops({ ...TRAIN_SHAPE, layers: 1 }, [3, 1], 0) - decoderStepFlops({ ...TRAIN_SHAPE, layers: 1 }, [4], 0), 3 * 4 * 256 * (6 + 1 - 10));
});

test('gmai bench train --no-peer: both models, the time split and utilisation, the peer marked as not run', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-bench-train-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'train.json');
  const { stdout } = await run(process.execPath, [gmai, 'bench', 'train', '--no-peer', '--rounds', '1', '--steps', '1', '--json', file], { timeout: 600_000 });
  t.regex(stdout, /training step \(forward, backward, AdamW/);
  const r = JSON.parse(readFileSync(file, 'utf8'));
  t.deepEqual(r.cases.map((c) => c.name), ['qwen2-small text', 'tiny qwen2.5-vl + images']);
  const [text, vl] = r.cases;
  t.is(text.tokens, 2048);
  t.is(text.completionTokens, 1024);
  t.is(text.params, 3_952_896);  // the torch peer's parameter count for the same decoder
  t.is(vl.tokens, 1024);
  for (const c of r.cases) {
    for (const k of ['tokensPerS', 'stepMs', 'forwardMs', 'backwardMs', 'optimizerMs']) t.true(positive(c.ours[k]), `${c.name} ${k}`);
    t.true(positive(c.mfuPct) && positive(c.gflopPerStep), c.name);
    t.is(c.torch, undefined);
    t.true(typeof c.peer === 'string');
  }
});

test('gmai bench train: bad arguments name the flag', async (t) => {
  const e = await t.throwsAsync(run(process.execPath, [gmai, 'bench', 'train', '--rounds', '0']));
  t.is(e.code, 2);
  t.regex(e.stderr, /--rounds needs a whole number >= 1/);
});
