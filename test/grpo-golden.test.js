// grpoLoss and computeAdvantages against the golden cases of TRL v0.26 GRPOTrainer
// (test/fixtures/grpo, computed in float64 with PyTorch autograd; README there). Every case,
// every loss type it lists, with gradient accumulation (micro-batch = the G rows of one
// prompt), at the manifest's f32 tolerances: per-token log-probs, entropies, advantages,
// ratios, KL, per-token losses, scalar losses, logit gradients and the logged metrics.
import test from 'ava';
import { readdirSync, statSync } from 'node:fs';
import { computeAdvantages, grpoLoss, openSafetensors } from '../dist/index.js';
import { fixture, readJson } from './helpers.js';

const root = fixture('grpo');
const cases = readdirSync(root).filter((d) => statSync(`${root}/${d}`).isDirectory()).sort();

function load(dir, file) {
  const reader = openSafetensors(`${root}/${dir}/${file}`);
  const out = {};
  for (const k of reader.keys()) {
    const t = reader.get(k);
    out[k] = { data: t.toArray(), shape: [...t.shape] };
    t.dispose();
  }
  reader.close();
  return out;
}

/** Elementwise |a − e| <= atol + rtol·|e| with the manifest's f32 tolerance of `name`. */
function check(t, manifest, name, actual, expected, what) {
  const tol = manifest.tolerance[name]?.f32;
  if (!tol) { t.fail(`${what}: no f32 tolerance for ${name} in the manifest`); return; }
  const exp = expected.data ?? expected;
  const act = typeof actual === 'number' ? [actual] : actual;
  const e = typeof exp === 'number' ? [exp] : Array.from(exp, Number);
  if (act.length !== e.length) { t.fail(`${what}: ${act.length} values, expected ${e.length}`); return; }
  for (let i = 0; i < e.length; i++) {
    const a = Number(act[i]);
    if (!(Math.abs(a - e[i]) <= tol.atol + tol.rtol * Math.abs(e[i]))) {
      t.fail(`${what}[${i}]: got ${a}, expected ${e[i]} (atol ${tol.atol}, rtol ${tol.rtol})`);
      return;
    }
  }
  t.pass();
}

function argsFor(manifest, inputs) {
  const c = manifest.config;
  return {
    logits: inputs.logits,
    completionIds: inputs.completion_ids,
    completionMask: inputs.completion_mask,
    rewardsPerFunc: inputs.rewards_per_func,
    rewardWeights: inputs.reward_weights,
    oldLogits: inputs.old_logits,
    refLogits: inputs.ref_logits,
    beta: c.beta,
    epsilonLow: c.epsilon,
    epsilonHigh: c.epsilon_high,
    delta: c.delta,
    temperature: c.temperature,
    importanceSamplingLevel: c.importance_sampling_level,
    scaleRewards: c.scale_rewards,
    numGenerations: c.num_generations,
    maxCompletionLength: c.max_completion_length,
    numItemsInBatch: manifest.scalars.num_items_in_batch,
    sapoTemperaturePos: c.sapo_temperature_pos,
    sapoTemperatureNeg: c.sapo_temperature_neg,
  };
}

test('the golden GRPO fixtures are all here (13 cases)', (t) => {
  const index = readJson(`${root}/index.json`);
  t.deepEqual(cases, index.cases.map((c) => c.case).sort());
  t.is(cases.length, 13);
});

for (const dir of cases) {
  const manifest = readJson(`${root}/${dir}/manifest.json`);
  const c = manifest.config;

  test(`${dir}: advantages (scale_rewards ${c.scale_rewards}, weights [${c.reward_weights}])`, (t) => {
    const inputs = load(dir, 'inputs.safetensors'), expected = load(dir, 'expected.safetensors');
    const adv = computeAdvantages({
      rewardsPerFunc: inputs.rewards_per_func, rewardWeights: inputs.reward_weights.data,
      groupSize: c.num_generations, scaleRewards: c.scale_rewards,
    });
    check(t, manifest, 'rewards', adv.rewards, expected.rewards, `${dir} rewards`);
    check(t, manifest, 'mean_grouped_rewards', adv.meanGroupedRewards, expected.mean_grouped_rewards, `${dir} mean_grouped_rewards`);
    check(t, manifest, 'std_rewards', adv.stdRewards, expected.std_rewards, `${dir} std_rewards`);
    check(t, manifest, 'advantages', adv.advantages, expected.advantages, `${dir} advantages`);
    t.deepEqual(Array.from(adv.isStdZero), Array.from(expected.is_std_zero.data), `${dir} is_std_zero`);
    if (c.zero_std_group_index !== null) {
      const G = c.num_generations, g = c.zero_std_group_index;
      t.deepEqual(Array.from(adv.advantages.subarray(g * G, (g + 1) * G)), new Array(G).fill(0), `${dir}: a zero-std group gets A = 0 exactly`);
    }
  });

  for (const lossType of c.loss_types) {
    test(`${dir}: loss_type ${lossType} — loss, logit gradient, per-token tensors and metrics match TRL`, (t) => {
      const inputs = load(dir, 'inputs.safetensors'), expected = load(dir, 'expected.safetensors');
      const r = grpoLoss({ ...argsFor(manifest, inputs), lossType });
      const tag = `${dir} ${lossType}`;
      check(t, manifest, `loss_${lossType}`, r.loss, expected[`loss_${lossType}`], `${tag} loss`);
      t.deepEqual(r.gradLogits.shape, expected[`grad_logits_${lossType}`].shape);
      check(t, manifest, `grad_logits_${lossType}`, r.gradLogits.data, expected[`grad_logits_${lossType}`], `${tag} grad_logits`);
      check(t, manifest, `per_token_loss_${lossType}`, r.perToken.loss, expected[`per_token_loss_${lossType}`], `${tag} per_token_loss`);
      check(t, manifest, 'per_token_logps', r.perToken.logps, expected.per_token_logps, `${tag} per_token_logps`);
      check(t, manifest, 'entropies', r.perToken.entropies, expected.entropies, `${tag} entropies`);
      if (expected.old_per_token_logps) check(t, manifest, 'old_per_token_logps', r.perToken.oldLogps, expected.old_per_token_logps, `${tag} old logps`);
      else t.is(r.perToken.oldLogps, undefined);
      if (expected.ref_per_token_logps) check(t, manifest, 'ref_per_token_logps', r.perToken.refLogps, expected.ref_per_token_logps, `${tag} ref logps`);
      if (expected.per_token_kl) check(t, manifest, 'per_token_kl', r.perToken.kl, expected.per_token_kl, `${tag} per_token_kl`);
      check(t, manifest, 'advantages', r.advantages, expected.advantages, `${tag} advantages`);
      const coef1 = expected[`coef_1_${lossType}`] ? `coef_1_${lossType}` : 'coef_1';
      check(t, manifest, coef1, r.perToken.coef1, expected[coef1], `${tag} ${coef1}`);
      if (expected.coef_2) check(t, manifest, 'coef_2', r.perToken.coef2, expected.coef_2, `${tag} coef_2`);

      const s = manifest.scalars, lossTol = `loss_${lossType}`;
      check(t, manifest, lossTol, r.metrics.meanEntropy, s.metric_mean_entropy, `${tag} metric mean entropy`);
      if ('metric_mean_kl' in s) check(t, manifest, lossTol, r.metrics.meanKl, s.metric_mean_kl, `${tag} metric mean KL`);
      else t.is(r.metrics.meanKl, undefined, 'no KL metric when β = 0');
      if (lossType === 'cispo') {
        check(t, manifest, lossTol, r.metrics.cispoClipRatio, s.metric_cispo_clip_ratio, `${tag} metric cispo clip ratio`);
      } else if (lossType !== 'sapo') {
        check(t, manifest, lossTol, r.metrics.clipRatioLow, s.metric_clip_ratio_low_mean, `${tag} clip ratio low`);
        check(t, manifest, lossTol, r.metrics.clipRatioHigh, s.metric_clip_ratio_high_mean, `${tag} clip ratio high`);
        check(t, manifest, lossTol, r.metrics.clipRatioRegion, s.metric_clip_ratio_region_mean, `${tag} clip ratio region`);
      }
    });

    test(`${dir}: loss_type ${lossType} with gradient accumulation (one micro-batch per prompt)`, (t) => {
      const inputs = load(dir, 'inputs.safetensors'), expected = load(dir, 'expected.safetensors');
      t.deepEqual(manifest.microbatches_for_ga_tensors.flat(), [...Array(c.batch_size).keys()], 'micro-batches are consecutive rows');
      const r = grpoLoss({ ...argsFor(manifest, inputs), lossType, gradientAccumulationSteps: c.num_prompts });
      const tag = `${dir} ${lossType} GA ${c.num_prompts}`;
      check(t, manifest, `ga_microbatch_losses_${lossType}`, r.microBatchLosses, expected[`ga_microbatch_losses_${lossType}`], `${tag} micro-batch losses`);
      check(t, manifest, `ga_loss_sum_${lossType}`, r.loss, expected[`ga_loss_sum_${lossType}`], `${tag} loss sum`);
      check(t, manifest, `ga_grad_logits_${lossType}`, r.gradLogits.data, expected[`ga_grad_logits_${lossType}`], `${tag} grad_logits`);
    });
  }
}

test('grpoLoss: bad arguments get errors naming the argument', (t) => {
  const dir = 'beta004_iter1';
  const manifest = readJson(`${root}/${dir}/manifest.json`);
  const inputs = load(dir, 'inputs.safetensors');
  const args = argsFor(manifest, inputs);
  t.throws(() => grpoLoss({ ...args, lossType: 'ppo' }), { message: /'lossType' must be one of/ });
  t.throws(() => grpoLoss({ ...args, refLogits: undefined }), { message: /'refLogits' or 'refLogps' is needed/ });
  t.throws(() => grpoLoss({ ...args, gradientAccumulationSteps: 3 }), { message: /'gradientAccumulationSteps' 3/ });
  t.throws(() => grpoLoss({ ...args, completionMask: { data: [1, 0], shape: [1, 2] } }), { message: /'completionMask'/ });
  t.throws(() => grpoLoss({ ...args, numGenerations: 3 }), { message: /'groupSize' 3/ });
  t.throws(() => grpoLoss({ ...args, logits: { data: [1], shape: [1, 1, 2] } }), { message: /'logits' has 1 values/ });
  t.throws(() => grpoLoss({ ...args, importanceSamplingLevel: 'word' }), { message: /'importanceSamplingLevel'/ });
});
