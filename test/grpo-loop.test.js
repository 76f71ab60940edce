// The GRPO loop's mechanics on a tiny random model: every stage runs and reports its metrics,
// a learnable reward is raised, rollouts can come from an OpenAI-compatible server (the
// package's own, on 127.0.0.1), resume is exact, and the config is validated by key.
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAiRolloutSource, runGrpo, serveModel, writeSyntheticDataset, writeTinyModel } from '../dist/index.js';
import { Tokenizer } from '../dist/processing/tokenizer.js';

async function fixture() {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-grpo-'));
  await writeTinyModel(join(dir, 'model'), { seed: 3, layers: 2, visionDepth: 2 });
  await writeSyntheticDataset(join(dir, 'data'), { seed: 5, trainCount: 8, heldOutCount: 0, format: 'png', size: 64 });
  return dir;
}

const config = (dir, output, extra = {}) => ({
  model: join(dir, 'model'), data: join(dir, 'data', 'train.jsonl'), output: join(dir, output),
  steps: 2, batchSize: 2, numGenerations: 4, maxCompletionLength: 12, learningRate: 1e-3, beta: 0.04, saveEvery: 1, seed: 11, ...extra,
});

// A reward a random model can learn fast: the share of the completion's characters that are
// lowercase letters (about 26 of the 264 byte-level tokens at random).
const likesA = { name: 'lowercase', weight: 1, fn: ({ completion }) => (completion.match(/[a-z]/g) ?? []).length / Math.max(1, completion.length) };

test('GRPO steps report every stage, write metrics, curves and checkpoints, and resume exactly', async (t) => {
  const dir = await fixture();
  const straight = await runGrpo(config(dir, 'straight', { numIterations: 2, gradientAccumulationSteps: 2 }), { rewardFunctions: [likesA] });
  t.is(straight.steps, 2);
  const m = straight.metrics[1];
  for (const k of ['loss', 'kl', 'entropy', 'completionLength', 'rolloutTokensPerSecond', 'updateTokensPerSecond']) t.true(Number.isFinite(m[k]), `${k} = ${m[k]}`);
  t.deepEqual(Object.keys(m.rewards).sort(), ['accuracy', 'format', 'lowercase']);
  t.true(m.kl > 0, 'after one update the policy differs from the reference');
  for (const f of ['metrics.jsonl', 'reward.svg', 'kl.svg', 'length.svg', 'checkpoint-2/model.safetensors']) t.true(existsSync(join(dir, 'straight', f)), f);
  // Stop after step 1, resume, and land on the same weights and metrics.
  const controller = new AbortController();
  await t.throwsAsync(runGrpo(config(dir, 'resumed', { numIterations: 2, gradientAccumulationSteps: 2 }), {
    rewardFunctions: [likesA], signal: controller.signal, onStep: (s) => { if (s.step === 1) controller.abort(new Error('stop')); },
  }), { message: 'stop' });
  await runGrpo(config(dir, 'resumed', { numIterations: 2, gradientAccumulationSteps: 2 }), { rewardFunctions: [likesA], resume: true });
  const bytes = (o) => readFileSync(join(dir, o, 'checkpoint-2', 'model.safetensors'));
  t.true(bytes('straight').equals(bytes('resumed')), 'resumed weights differ from the straight run');
});

test('GRPO raises a learnable reward', async (t) => {
  const dir = await fixture();
  const r = await runGrpo(config(dir, 'learn', { steps: 12, batchSize: 2, numGenerations: 6, beta: 0, learningRate: 1e-2, saveEvery: 12, rewardWeights: { accuracy: 0, format: 0 } }),
    { rewardFunctions: [likesA] });
  const reward = r.metrics.map((m) => m.rewards.lowercase.mean);
  const first = (reward[0] + reward[1] + reward[2]) / 3, last = (reward.at(-1) + reward.at(-2) + reward.at(-3)) / 3;
  t.true(last > first + 0.1, `mean lowercase share ${first.toFixed(3)} → ${last.toFixed(3)}: ${reward.map((x) => x.toFixed(2)).join(' ')}`);
});

test('GRPO with LoRA: only the adapter trains and is saved, the reference is the base model, resume is exact', async (t) => {
  const dir = await fixture();
  const lora = { r: 4, alpha: 8 };
  const straight = await runGrpo(config(dir, 'lora', { lora }), { rewardFunctions: [likesA] });
  // A fresh adapter (B = 0) is the base model: step 1's policy equals the reference exactly.
  t.is(straight.metrics[0].kl, 0);
  t.true(straight.metrics[1].kl > 0, 'after one update the adapted policy differs from the base');
  for (const f of ['adapter_model.safetensors', 'adapter_config.json', 'optimizer.safetensors']) t.true(existsSync(join(dir, 'lora', 'checkpoint-2', f)), f);
  t.false(existsSync(join(dir, 'lora', 'checkpoint-2', 'model.safetensors')), 'no full weights in a LoRA checkpoint');
  const controller = new AbortController();
  await t.throwsAsync(runGrpo(config(dir, 'lora-resumed', { lora }), {
    rewardFunctions: [likesA], signal: controller.signal, onStep: (s) => { if (s.step === 1) controller.abort(new Error('stop')); },
  }), { message: 'stop' });
  await runGrpo(config(dir, 'lora-resumed', { lora }), { rewardFunctions: [likesA], resume: true });
  const bytes = (o) => readFileSync(join(dir, o, 'checkpoint-2', 'adapter_model.safetensors'));
  t.true(bytes('lora').equals(bytes('lora-resumed')), 'resumed adapter differs from the straight run');
});

test('GRPO with LoRA raises a learnable reward (so the rollouts sample the adapted policy, not the base)', async (t) => {
  const dir = await fixture();
  const r = await runGrpo(config(dir, 'lora-learn', { lora: { r: 8, alpha: 32 }, steps: 12, batchSize: 2, numGenerations: 6, beta: 0, learningRate: 3e-2, saveEvery: 12, rewardWeights: { accuracy: 0, format: 0 } }),
    { rewardFunctions: [likesA] });
  const reward = r.metrics.map((m) => m.rewards.lowercase.mean);
  const first = (reward[0] + reward[1] + reward[2]) / 3, last = (reward.at(-1) + reward.at(-2) + reward.at(-3)) / 3;
  t.true(last > first + 0.1, `mean lowercase share ${first.toFixed(3)} → ${last.toFixed(3)}: ${reward.map((x) => x.toFixed(2)).join(' ')}`);
});

test('rollouts from an OpenAI-compatible server on 127.0.0.1 (the package\'s own) train the policy', async (t) => {
  const dir = await fixture();
  const server = await serveModel({ model: join(dir, 'model'), port: 0 });
  t.teardown(() => server.close());
  const source = openAiRolloutSource({ baseUrl: `${server.url}/v1`, tokenizer: Tokenizer.fromDir(join(dir, 'model')) });
  const seen = [];
  const wrapped = { generate: async (p, o) => { const r = await source.generate(p, o); seen.push(...r); return r; } };
  const r = await runGrpo(config(dir, 'remote', { steps: 1 }), { rolloutSource: wrapped, rewardFunctions: [likesA] });
  t.is(r.steps, 1);
  t.is(seen.length, 2 * 4);
  t.true(seen.every((x) => x.completionIds.length > 0 && x.samplerLogprobs?.length === x.completionIds.length), 'token ids and log-probs from the server');
});

// DAPO's dynamic sampling keeps the groups whose rewards differ. A reward that differs within
// every group keeps round 1 and is the plain loop bit for bit; a constant reward (every group
// flat) draws every round and trains nothing (β 0); a reward that differs only for some prompts
// reports the flat share of what it sampled.
test('dynamic sampling: more rounds only while too few groups differ; all differing is plain GRPO exactly', async (t) => {
  const dir = await fixture();
  const off = { rewardWeights: { accuracy: 0, format: 0 }, beta: 0 };
  const plain = await runGrpo(config(dir, 'ds-plain', off), { rewardFunctions: [likesA] });
  const kept = await runGrpo(config(dir, 'ds-kept', { ...off, dynamicSampling: { maxRounds: 3 } }), { rewardFunctions: [likesA] });
  for (const m of kept.metrics) {
    t.is(m.promptsSampled, 2);
    t.is(m.fracRewardZeroStd, 0);
  }
  const bytes = (o) => readFileSync(join(dir, o, 'checkpoint-2', 'model.safetensors'));
  t.true(bytes('ds-plain').equals(bytes('ds-kept')), 'with every group informative, dynamic sampling changed the run');
  t.is(plain.metrics[1].promptsSampled, 2);

  const constant = { name: 'constant', weight: 1, fn: () => 0.5 };
  const flat = await runGrpo(config(dir, 'ds-flat', { ...off, dynamicSampling: { maxRounds: 3 } }), { rewardFunctions: [constant] });
  for (const m of flat.metrics) {
    t.is(m.promptsSampled, 6, 'three rounds of two prompts');
    t.is(m.fracRewardZeroStd, 1);
    t.is(m.loss, 0);
    t.is(m.gradNorm, 0);
  }

  // Informative only for questions about an even-numbered record line: count what was sampled.
  const seen = [];
  const some = { name: 'some', weight: 1, fn: ({ completion, record }) => { seen.push(record.line); return record.line % 2 ? 0 : likesA.fn({ completion }); } };
  const mixed = await runGrpo(config(dir, 'ds-mixed', { ...off, steps: 3, dynamicSampling: { maxRounds: 4 } }), { rewardFunctions: [some] });
  let at = 0;
  for (const m of mixed.metrics) {
    const lines = seen.slice(at, (at += m.promptsSampled * 4)).filter((_, i) => i % 4 === 0);
    t.is(m.fracRewardZeroStd, lines.filter((l) => l % 2).length / lines.length, `step ${m.step}: lines ${lines}`);
    const informative = lines.filter((l) => l % 2 === 0).length;
    // Rounds go on while fewer than two groups differ, for at most four rounds.
    t.true(informative - lines.slice(-2).filter((l) => l % 2 === 0).length < 2, `step ${m.step}: another round though two groups differed: lines ${lines}`);
    t.true(informative >= 2 || m.promptsSampled === 8, `step ${m.step}: stopped with too few differing groups: lines ${lines}`);
  }
  t.is(at, seen.length);
});

test('a bad GRPO config names the key', async (t) => {
  const dir = await fixture();
  await t.throwsAsync(runGrpo(config(dir, 'bad', { numGenerations: 1 })), { message: /'numGenerations' must be an integer ≥ 2, got 1/ });
  await t.throwsAsync(runGrpo(config(dir, 'bad', { lossType: 'ppo' })), { message: /'lossType' must be one of/ });
  await t.throwsAsync(runGrpo(config(dir, 'bad', { rollout: { source: 'openai' } })), { message: /rollout.baseUrl/ });
  await t.throwsAsync(runGrpo(config(dir, 'bad', { lora: { r: 0, alpha: 1 } })), { message: /'lora.r' must be an integer ≥ 1, got 0/ });
  await t.throwsAsync(runGrpo(config(dir, 'bad', { lora: { r: 2, alpha: 1, targetModules: ['qq_proj'] } })), { message: /lora.targetModules/ });
  await t.throwsAsync(runGrpo(config(dir, 'bad', { dynamicSampling: { maxRounds: 0 } })), { message: /'dynamicSampling.maxRounds' must be an integer ≥ 1, got 0/ });
  await t.throwsAsync(runGrpo(config(dir, 'bad', { dynamicSampling: { rounds: 2 } })), { message: /unknown key 'dynamicSampling.rounds'/ });
});
