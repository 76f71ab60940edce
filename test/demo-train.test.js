// `gmai demo train` in miniature (a smaller model, fewer questions and steps) and `gmai demo`
// with the shipped model (models/gmai-demo).
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { writeSyntheticDataset } from '../dist/data/synthetic/dataset.js';
import { heldOutQuestion, readDemoInfo, shippedDemoModel, SHIPPED_DEMO_MODEL } from '../dist/demo/shipped-model.js';
import { trainDemo } from '../dist/demo/train-demo.js';

const run = promisify(execFile);

// The smaller version of `gmai demo train` (about 1–2 minutes on 2 busy cores): 64 px images,
// 40 SFT questions for 16 epochs, then 12 GRPO steps on 20 other questions.
const SMALL_SFT = { epochs: 16, batchSize: 4, learningRate: 3e-3 };
const SMALL_GRPO = { steps: 12, batchSize: 2, numGenerations: 6, learningRate: 3e-4, beta: 0.04, temperature: 0.8, maxCompletionLength: 112 };
const gmai = fileURLToPath(new URL('../bin/gmai.js', import.meta.url));

test('held-out questions redrawn from demo.json are the ones writeSyntheticDataset wrote (same text, answer and PNG bytes)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-demo-heldout-'));
  const data = { seed: 7, trainCount: 10, heldOutCount: 6, size: 64 };
  const ds = await writeSyntheticDataset(dir, { ...data, format: 'png' });
  const info = { data, sft: null, grpo: { accuracy: 0, formatRate: 0 }, chance: 0.25 };
  for (const [i, r] of ds.heldOut.entries()) {
    const { example, png } = await heldOutQuestion(info, i);
    t.is(example.question, r.question, `question ${i}`);
    t.deepEqual(example.options, r.options, `options ${i}`);
    t.is(example.answer, r.answer, `answer ${i}`);
    t.true(png.equals(readFileSync(join(dir, r.image))), `PNG ${i}`);
  }
  await t.throwsAsync(() => heldOutQuestion(info, -1), { message: /index must be an integer ≥ 0/ });
});

test('the package ships the trained demo model, and gmai demo answers a held-out question with it', async (t) => {
  const model = shippedDemoModel();
  t.truthy(model, `${SHIPPED_DEMO_MODEL} is missing`);
  const info = readDemoInfo(model);
  t.true(info.grpo.accuracy > info.chance, 'the shipped model was recorded above chance');
  const { stdout, stderr } = await run(process.execPath, [gmai, 'demo', '--question', '0']);
  t.regex(stderr, /trained by `gmai demo train`/);
  t.regex(stdout, /held-out question 0 /);
  t.regex(stdout, /parsed: letter=[A-D] format_ok=true: (correct|wrong \(correct: [A-D]\))/);
});

test('gmai infer defaults to the shipped demo model', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-demo-infer-'));
  const info = readDemoInfo(shippedDemoModel());
  const { example, png } = await heldOutQuestion(info, 1);
  const image = join(dir, 'q.png');
  writeFileSync(image, png);
  const args = ['infer', '--image', image, '--question', example.question, ...Object.entries(example.options).flatMap(([k, o]) => ['--options', `${k}=${o}`]), '--max-tokens', '160'];
  const { stdout, stderr } = await run(process.execPath, [gmai, ...args]);
  t.regex(stderr, /models[/\\]gmai-demo/);
  t.regex(stdout, /answer: [A-D]/);
});

// This checks that the pipeline runs end to end and writes what it promises. It does NOT check
// that GRPO raises the reward: on this task it has not yet (README: GRPO after SFT stays within
// the seed spread of the SFT model; a learnable reward does rise under GRPO in grpo-loop.test.js).
test('gmai demo train, smaller: SFT then GRPO run end to end and write demo-report.json, reward.svg and the model', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-demo-train-'));
  const r = await trainDemo({
    output: dir, seed: 3, trainCount: 60, grpoCount: 20, heldOutCount: 8, size: 64,
    sft: SMALL_SFT, grpo: SMALL_GRPO, skipSftEval: true,
  });
  const report = JSON.parse(readFileSync(join(dir, 'demo-report.json'), 'utf8'));
  for (const key of ['chance', 'heldOut', 'sft', 'grpo', 'model']) t.true(key in report, key);
  t.is(report.chance, 0.25);
  t.is(report.heldOut, 8);
  t.is(report.sft, null, 'skipSftEval');
  for (const k of ['accuracy', 'formatRate']) t.true(report.grpo[k] >= 0 && report.grpo[k] <= 1, k);
  t.is(r.example.answer, report.example.answer);
  t.true(existsSync(join(dir, 'grpo', 'reward.svg')));
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'preprocessor_config.json', 'demo.json']) t.true(existsSync(join(dir, 'model', f)), f);
  t.false(existsSync(join(dir, 'model', 'optimizer.safetensors')), 'the exported model carries no optimizer state');
  t.log(`reward: first quarter ${r.grpoReward.first.toFixed(3)}, last quarter ${r.grpoReward.last.toFixed(3)}; held-out ${JSON.stringify(r.grpo)}`);
});
