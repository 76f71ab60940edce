// The SFT loop end to end on a tiny model and synthetic data: the loss goes down, metrics and a
// loss curve are written, a bad config names the key, and N steps straight equal N/2 steps,
// a stop, and a resume for N/2 more — bit for bit (weights and optimiser state).
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reasoningTrace, writeSyntheticDataset, writeTinyModel } from '../dist/index.js';
import { runSft } from '../dist/train/sft-loop.js';

async function fixture() {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-sft-'));
  await writeTinyModel(join(dir, 'model'), { seed: 3, layers: 2, visionDepth: 2 });
  const ds = await writeSyntheticDataset(join(dir, 'data'), { seed: 5, trainCount: 8, heldOutCount: 4, format: 'png', size: 64 });
  // Records with their reasoning trace as the assistant text to learn.
  writeFileSync(join(dir, 'data', 'sft.jsonl'), ds.train.map((r) => JSON.stringify({ ...r, response: reasoningTrace(r) })).join('\n') + '\n');
  return dir;
}

const baseConfig = (dir, output, extra = {}) => ({
  model: join(dir, 'model'), data: join(dir, 'data', 'sft.jsonl'), output: join(dir, output),
  steps: 4, batchSize: 4, maxTokens: 2048, learningRate: 3e-3, schedule: 'cosine', warmupSteps: 1,
  weightDecay: 0.01, maxGradNorm: 1, seed: 7, saveEvery: 2, trainable: 'all', ...extra,
});

test('SFT drives the loss down and writes metrics, a loss curve and checkpoints', async (t) => {
  const dir = await fixture();
  const r = await runSft(baseConfig(dir, 'run', { steps: 10, batchSize: 8, saveEvery: 5 }));
  const first = r.metrics[0].loss, last = r.metrics.at(-1).loss;
  t.true(last < 0.7 * first, `loss ${first} → ${last}: ${r.metrics.map((m) => m.loss.toFixed(3)).join(' ')}`);
  const lines = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.is(lines.length, 10);
  t.true(lines.every((m) => Number.isFinite(m.gradNorm) && m.tokens > 0 && m.lr >= 0));
  t.true(readFileSync(join(dir, 'run', 'loss.svg'), 'utf8').includes('<path'));
  t.true(existsSync(join(dir, 'run', 'checkpoint-5', 'model.safetensors')) && existsSync(join(dir, 'run', 'checkpoint-10', 'optimizer.safetensors')));
});

test('resume is exact: 4 steps straight = 2 steps, stop, resume, 2 more (bit-identical weights and moments)', async (t) => {
  const dir = await fixture();
  await runSft(baseConfig(dir, 'straight'));
  const controller = new AbortController();
  await t.throwsAsync(runSft(baseConfig(dir, 'resumed'), {
    signal: controller.signal,
    onStep: (m) => { if (m.step === 2) controller.abort(new Error('stop at 2')); },
  }), { message: 'stop at 2' });
  t.true(existsSync(join(dir, 'resumed', 'checkpoint-2')));
  t.false(existsSync(join(dir, 'resumed', 'checkpoint-4')));
  const logs = [];
  await runSft(baseConfig(dir, 'resumed'), { resume: true, onLog: (l) => logs.push(l) });
  t.true(logs.some((l) => /resumed from .*checkpoint-2 at step 2/.test(l)), logs.join('\n'));
  for (const f of ['model.safetensors', 'optimizer.safetensors']) {
    const a = readFileSync(join(dir, 'straight', 'checkpoint-4', f)), b = readFileSync(join(dir, 'resumed', 'checkpoint-4', f));
    t.true(a.equals(b), `${f} differs between the straight and the resumed run`);
  }
  const m = (o) => readFileSync(join(dir, o, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss);
  t.deepEqual(m('resumed'), m('straight'));
});

test('a bad config names the key', async (t) => {
  const dir = await fixture();
  await t.throwsAsync(runSft(baseConfig(dir, 'bad', { learningRate: -1 })), { message: /'learningRate' must be a number > 0, got -1/ });
  await t.throwsAsync(runSft(baseConfig(dir, 'bad', { learningRat: 1 })), { message: /unknown key 'learningRat' \(did you mean 'learningRate'\?\)/ });
});
