// The GRPO loop (the GMAI-VL-R1 recipe): per step, a batch of multiple-choice prompts → G
// rollouts each → rewards (accuracy and format, plus user functions) → group-relative
// advantages → reference (and old-policy) log-probs → the clipped, KL-regularised policy loss
// of TRL's GRPOTrainer through the whole model → AdamW. Stages are separable (grpo-stages.ts):
// rollouts may come from an OpenAI-compatible server instead of the local engine.
import { join } from 'node:path';
import { deriveSeed } from '../random.js';
import type { McqRecord } from '../eval/dataset.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel } from '../model/model.js';
import { grpoTokenLoss, type GrpoLossType } from '../ops/loss.js';
import { messagesForQuestion } from '../processing/prompt.js';
import { Tensor } from '../tensor.js';
import { validate, type Schema } from './config.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { computeAdvantages, type ScaleRewards } from './grpo.js';
import { engineRolloutSource, referenceLogprobs, scoreCompletions, type Rollout, type RolloutPrompt, type RolloutSource } from './grpo-stages.js';
import { betweenSteps, COMMON_SCHEMA, type CommonLoopConfig, DataOrder, MetricsLog, openLoop, openTrainedModel, readLoopConfig, resumeState, type TrainCallbacks } from './loop.js';
import { AdamW } from './optim.js';
import { GradBuffers } from './params.js';
import { lineChartSvg } from './plots.js';
import { defaultRewardFunctions, type WeightedRewardFunction } from './reward-functions.js';
import { learningRateSchedule } from './schedule.js';
import { backwardInto, completionLogprobs, trainingTape } from './sft.js';
import { openAiRolloutSource } from './rollout-openai.js';

export interface GrpoConfig extends CommonLoopConfig {
  steps: number;
  /** Prompts per step; each gets `numGenerations` completions. */
  batchSize: number;
  numGenerations: number;
  /** KL coefficient to the reference model (0: no reference model is loaded). */
  beta: number;
  /** Clip range: ratio ∈ [1 − epsilon, 1 + epsilonHigh]. */
  epsilon: number;
  epsilonHigh?: number;
  /** Two-sided clipping cap of the ratio for negative advantages (off when absent). */
  delta?: number;
  temperature: number;
  topP: number;
  maxCompletionLength: number;
  /** Policy updates per batch of rollouts (> 1 uses old-policy log-probs and clipping). */
  numIterations: number;
  gradientAccumulationSteps: number;
  lossType: GrpoLossType;
  importanceSamplingLevel: 'token' | 'sequence';
  scaleRewards: ScaleRewards;
  rewardWeights: { accuracy: number; format: number };
  /**
   * DAPO's dynamic sampling: a group whose rewards are all equal has zero advantage and teaches
   * nothing but the KL term, so up to `maxRounds` batches of prompts are rolled out per step and
   * the groups with differing rewards fill the batch first (then the others, if too few differ).
   */
  dynamicSampling?: { maxRounds: number };
  /** Where rollouts come from: the local engine (default) or an OpenAI-compatible server. */
  rollout?: { source: 'engine' | 'openai'; baseUrl?: string; model?: string; apiKey?: string };
}

/** Defaults follow the published R1-style VLM recipes (G = 8, lr 1e-6, β = 0.04, ε = 0.2, τ = 1). */
export const GRPO_SCHEMA: Schema = {
  ...COMMON_SCHEMA,
  steps: { type: 'number', integer: true, min: 1, required: true },
  batchSize: { type: 'number', integer: true, min: 1, default: 4 },
  numGenerations: { type: 'number', integer: true, min: 2, default: 8 },
  learningRate: { type: 'number', min: 0, exclusiveMin: true, default: 1e-6 },
  beta: { type: 'number', min: 0, default: 0.04 },
  epsilon: { type: 'number', min: 0, default: 0.2 },
  epsilonHigh: { type: 'number', min: 0 },
  delta: { type: 'number', min: 1, exclusiveMin: true },
  temperature: { type: 'number', min: 0, exclusiveMin: true, default: 1 },
  topP: { type: 'number', min: 0, exclusiveMin: true, max: 1, default: 1 },
  maxCompletionLength: { type: 'number', integer: true, min: 1, default: 256 },
  numIterations: { type: 'number', integer: true, min: 1, default: 1 },
  gradientAccumulationSteps: { type: 'number', integer: true, min: 1, default: 1 },
  lossType: { type: 'enum', values: ['grpo', 'bnpo', 'dr_grpo', 'dapo', 'cispo', 'sapo'], default: 'grpo' },
  importanceSamplingLevel: { type: 'enum', values: ['token', 'sequence'], default: 'token' },
  scaleRewards: { type: 'enum', values: ['group', 'batch', 'none'], default: 'group' },
  rewardWeights: { type: 'object', rules: { accuracy: { type: 'number', min: 0, default: 1 }, format: { type: 'number', min: 0, default: 1 } } },
  schedule: { type: 'enum', values: ['constant', 'cosine'], default: 'constant' },
  dynamicSampling: { type: 'object', rules: { maxRounds: { type: 'number', integer: true, min: 1, default: 4 } } },
  rollout: { type: 'object', rules: {
    source: { type: 'enum', values: ['engine', 'openai'], default: 'engine' },
    baseUrl: { type: 'string' }, model: { type: 'string' }, apiKey: { type: 'string' },
  } },
};

export function readGrpoConfig(file: string): GrpoConfig {
  return readLoopConfig<GrpoConfig>(file, GRPO_SCHEMA);
}

export interface GrpoStepMetrics {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Mean and std of each reward function over the step's completions, and of their weighted sum. */
  rewards: Record<string, { mean: number; std: number }>;
  reward: number;
  /** Share of the completions whose answer is right (accuracy reward 1). */
  accuracy: number;
  /** Share of the completions that are well formed (format reward > 0; the reward itself pays 0.5). */
  formatRate: number;
  kl: number;
  entropy: number;
  clipRatio: { low: number; high: number; region: number };
  completionLength: number;
  /** Share of the sampled groups whose rewards were all equal (zero advantage), as TRL logs it. */
  fracRewardZeroStd: number;
  /** Prompts rolled out this step (batchSize, or more with dynamic sampling). */
  promptsSampled: number;
  rolloutTokensPerSecond: number;
  updateTokensPerSecond: number;
  /** Share of the step's time per stage (rollout, reward, reference, update). */
  seconds: { rollout: number; reward: number; reference: number; update: number };
  skipped?: string;
}

export interface GrpoResult {
  steps: number;
  checkpoint: string;
  metrics: GrpoStepMetrics[];
}

const meanStd = (x: number[]) => {
  const m = x.reduce((a, b) => a + b, 0) / Math.max(1, x.length);
  const v = x.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, x.length - 1);
  return { mean: m, std: Math.sqrt(v) };
};

/** Packed per-token values [Σ lengths] → padded [B, T] (zeros past each row's length). */
function padded(values: ArrayLike<number>, lengths: number[], T: number): Float32Array {
  const out = new Float32Array(lengths.length * T);
  let at = 0;
  lengths.forEach((n, b) => { for (let t = 0; t < n; t++) out[b * T + t] = values[at++]; });
  return out;
}

/** One prompt's G rollouts, their rewards [G][functions] and weighted sums [G]. */
interface Group {
  prompt: { record: McqRecord; prompt: RolloutPrompt; text: string };
  rollouts: Rollout[];
  rewards: number[][];
  weighted: number[];
  /** All G weighted rewards equal: zero advantage. */
  flat: boolean;
}

export interface GrpoRunOptions extends TrainCallbacks<GrpoStepMetrics> {
  resume?: boolean;
  /** Extra reward functions (name, fn, weight), scored with accuracy and format. */
  rewardFunctions?: WeightedRewardFunction<McqRecord>[];
  /** A rollout source to use instead of the config's (tests, custom engines). */
  rolloutSource?: RolloutSource;
}

export async function runGrpo(raw: GrpoConfig, opts: GrpoRunOptions = {}): Promise<GrpoResult> {
  const config = validate<GrpoConfig>(raw as unknown as Record<string, unknown>, GRPO_SCHEMA, 'GRPO config');
  const log = opts.onLog ?? (() => {});
  const G = config.numGenerations, tau = config.temperature;
  const epsHigh = config.epsilonHigh ?? config.epsilon;
  if (config.rollout?.source === 'openai' && !config.rollout.baseUrl && !opts.rolloutSource) {
    throw new Error("GRPO config: 'rollout.baseUrl' is required with rollout.source 'openai'");
  }
  const { resumeFrom, processor, records } = await openLoop(config, opts.resume ?? false, log);
  const prompts: { record: McqRecord; prompt: RolloutPrompt; text: string }[] = [];
  for (const record of records) {
    try {
      const messages = messagesForQuestion(record);
      prompts.push({ record, prompt: { inputs: await processor.apply({ messages, addGenerationPrompt: true }), messages }, text: record.question });
    } catch (e) {
      log(`${config.data}:${record.line}: skipped: ${(e as Error).message}`);
    }
  }
  if (prompts.length === 0) throw new Error(`${config.data}: no usable records`);

  const ckpt = resumeFrom ? await loadCheckpoint(resumeFrom) : undefined;
  using trained = await openTrainedModel(config, ckpt, 'GRPO config');
  const { model, lora, isTrainable } = trained;
  // The reference policy is the starting model, frozen (also after a resume): with LoRA, the
  // base weights themselves (the adapters switched off), so no second copy is loaded.
  using refModel = config.beta !== 0 && !lora ? await loadModel(config.model, { dtype: config.dtype }) : undefined;
  const engine = !opts.rolloutSource && config.rollout?.source !== 'openai';
  const source = opts.rolloutSource ?? (engine
    ? engineRolloutSource(model, processor.tokenizer)
    : openAiRolloutSource({ baseUrl: config.rollout!.baseUrl!, model: config.rollout!.model, apiKey: config.rollout!.apiKey, tokenizer: processor.tokenizer }));
  const rewardFns: WeightedRewardFunction<McqRecord>[] = [
    ...defaultRewardFunctions().map((f) => ({ ...f, weight: config.rewardWeights?.[f.name as 'accuracy' | 'format'] ?? f.weight })),
    ...(opts.rewardFunctions ?? []),
  ];
  const rewardWeights = rewardFns.map((f) => f.weight);
  try {
    using opt = AdamW.forModel(trained.trained, { weightDecay: config.weightDecay, maxGradNorm: config.maxGradNorm });
    const trainer = resumeState(ckpt, opt, { step: 0, consumed: 0, seed: config.seed, config }, log);
    const schedule = learningRateSchedule({ kind: config.schedule, lr: config.learningRate, warmupSteps: config.warmupSteps, totalSteps: config.steps });
    const metrics = new MetricsLog<GrpoStepMetrics>(join(config.output, 'metrics.jsonl'));
    await metrics.open(trainer.step);
    const order = new DataOrder(prompts.length, config.seed, 'grpo-order');
    using grads = new GradBuffers(trained.params);
    let checkpoint = resumeFrom ?? '';
    // A completion cut at a stop string ('</answer>') is closed with <|im_end|>, as the SFT targets
    // are: trained without it, the policy would forget to end its turn after the answer (and, at
    // inference, run on past it). An empty completion is just <|im_end|>.
    const imEnd = processor.tokenizer.requireId('<|im_end|>');
    const endTurn = (r: Rollout): Rollout => {
      const ids = r.completionIds, last = ids[ids.length - 1];
      const closed = last === imEnd || model.config.tokens.eos.includes(last);
      const cutAtStopString = r.finishReason === 'stop' && !closed;
      return ids.length === 0 || cutAtStopString ? { ...r, completionIds: Int32Array.from([...ids, imEnd]) } : r;
    };
    // Rewards score the decoded completion tokens (what the loss trains on): generation drops
    // the stop string from `text`, and without '</answer>' no completion would be well formed.
    const completionText = (r: Rollout) => processor.tokenizer.decode(r.completionIds, { skipSpecialTokens: true });
    /** One batch of prompts: G completions each, seeded by (seed, step, prompt) for exact resumes, and their rewards. */
    const sampleRound = async (round: number): Promise<{ groups: Group[]; rolloutSeconds: number; rewardSeconds: number }> => {
      const t0 = performance.now();
      const drawn = Array.from({ length: config.batchSize }, () => prompts[order.at(trainer.consumed++)]);
      const rollouts: Rollout[] = [];
      for (const [i, p] of drawn.entries()) {
        const rs = await source.generate(p.prompt, {
          numGenerations: G, temperature: tau, topP: config.topP, maxCompletionLength: config.maxCompletionLength,
          stopStrings: ['</answer>'], seed: deriveSeed('grpo-rollout', config.seed, trainer.step, round * config.batchSize + i),
        });
        if (rs.length !== G) throw new Error(`rollout source returned ${rs.length} completions for prompt ${i}, expected ${G}`);
        rollouts.push(...rs.map(endTurn));
      }
      const t1 = performance.now();
      const scored = await scoreCompletions(rewardFns, rollouts.map((r, b) => ({ prompt: drawn[Math.floor(b / G)].text, completion: completionText(r), record: drawn[Math.floor(b / G)].record })));
      const { isStdZero, rewards } = computeAdvantages({
        rewardsPerFunc: { data: scored.perFunction.flat(), shape: [rollouts.length, rewardFns.length] }, rewardWeights, groupSize: G, scaleRewards: 'group',
      });
      const groups = drawn.map((p, j) => ({
        prompt: p, rollouts: rollouts.slice(j * G, (j + 1) * G), rewards: scored.perFunction.slice(j * G, (j + 1) * G),
        weighted: Array.from(rewards.subarray(j * G, (j + 1) * G)), flat: isStdZero[j * G] === 1,
      }));
      return { groups, rolloutSeconds: (t1 - t0) / 1000, rewardSeconds: (performance.now() - t1) / 1000 };
    };
    while (trainer.step < config.steps) {
      await betweenSteps(opts.signal);
      // 1. rollouts and 2. their rewards; with dynamic sampling, more rounds until enough groups differ.
      let rolloutSeconds = 0, rewardSeconds = 0;
      const sampled: Group[] = [];
      const sampleRounds = async () => {
        const rounds = config.dynamicSampling?.maxRounds ?? 1;
        for (let round = 0; round < rounds && sampled.filter((g) => !g.flat).length < config.batchSize; round++) {
          const r = await sampleRound(round);
          sampled.push(...r.groups);
          rolloutSeconds += r.rolloutSeconds;
          rewardSeconds += r.rewardSeconds;
        }
      };
      // The local engine samples from the adapted policy: adapters merged for the rollouts.
      await (lora && engine ? lora.withMerged(sampleRounds) : sampleRounds());
      // Dynamic sampling trains the groups that differ first; plain GRPO, the one round as drawn.
      const groups = config.dynamicSampling
        ? [...sampled.filter((g) => !g.flat), ...sampled.filter((g) => g.flat)].slice(0, config.batchSize) : sampled;
      const picked = groups.map((g) => g.prompt), rollouts = groups.flatMap((g) => g.rollouts);
      const B = rollouts.length;
      const t2 = performance.now();
      const adv = computeAdvantages({
        rewardsPerFunc: { data: groups.flatMap((g) => g.rewards).flat(), shape: [B, rewardFns.length] },
        rewardWeights, groupSize: G, scaleRewards: config.scaleRewards,
      });
      // 3. reference and old-policy log-probs (no gradient).
      const batch = rollouts.map((r, b) => ({ inputs: picked[Math.floor(b / G)].prompt.inputs, completionIds: r.completionIds }));
      const refLogp = config.beta === 0 ? undefined
        : lora ? lora.withoutAdapters(() => referenceLogprobs(model, batch, tau)) : referenceLogprobs(refModel!, batch, tau);
      const oldLogp = config.numIterations > 1 ? referenceLogprobs(model, batch, tau) : undefined;
      const t3 = performance.now();
      // 4. policy update(s): micro-batches of consecutive completions, one AdamW step per iteration.
      const lengths = batch.map((b) => b.completionIds.length);
      const numItems = lengths.reduce((a, b) => a + b, 0);
      const GA = Math.min(config.gradientAccumulationSteps, B);
      const per = Math.ceil(B / GA);
      let lossSum = 0, klSum = 0, entSum = 0, tokens = 0, low = 0, high = 0, region = 0, clipCount = 0, gradNorm = NaN;
      let skipped: string | undefined;
      const lr = schedule(trainer.step);
      let microBatch = 0;
      for (let iter = 0; iter < config.numIterations; iter++) {
        for (let s = 0; s < B; s += per) {
          if (lora) lora.dropoutKey = { step: trainer.step, microBatch: microBatch++ };
          const rows = Array.from({ length: Math.min(per, B - s) }, (_, k) => s + k);
          const mbLengths = rows.map((b) => lengths[b]);
          const T = Math.max(...mbLengths);
          using tape = trainingTape(model, isTrainable, lora);
          using out = completionLogprobs(model, rows.map((b) => ({ ...batch[b].inputs, completionIds: batch[b].completionIds })), { temperature: tau, entropy: true, tape, checkpointLayers: config.activationCheckpointing });
          const pad = (v: ArrayLike<number>) => Tensor.from<'float32'>(padded(v, mbLengths, T), [rows.length, T]);
          const packedOf = (per: Float32Array[] | undefined) => per && rows.flatMap((b) => Array.from(per[b]));
          using logp = pad(out.logp.toArray());
          using mask = pad(new Float32Array(out.logp.size).fill(1));
          using entropy = pad(out.entropy!.toArray());
          const old = packedOf(oldLogp), ref = packedOf(refLogp);
          using oldT = old ? pad(old) : undefined;
          using refT = ref ? pad(ref) : undefined;
          using advT = Tensor.from<'float32'>(Float32Array.from(rows, (b) => adv.advantages[b]), [rows.length]);
          using loss = grpoTokenLoss({ logp, oldLogp: oldT, refLogp: refT, advantages: advT, mask, entropy }, {
            lossType: config.lossType, importanceSamplingLevel: config.importanceSamplingLevel, beta: config.beta,
            epsilonLow: config.epsilon, epsilonHigh: epsHigh, delta: config.delta ?? null,
            maxCompletionLength: config.maxCompletionLength, numItems, gradientAccumulationSteps: GA,
          });
          // ∂loss/∂logp, padded [b, T] → packed like out.logp.
          const d = loss.dlogp.toArray(), dPacked = new Float32Array(out.logp.size);
          let at = 0;
          mbLengths.forEach((n, b) => { for (let t = 0; t < n; t++) dPacked[at++] = d[b * T + t]; });
          backwardInto(tape, out.logp, Tensor.from<'float32'>(dPacked, [dPacked.length], { device: model.device }), grads);
          const st = loss.stats;
          lossSum += st.loss; klSum += st.klSum; entSum += st.entropySum; tokens += st.tokens;
          low += st.lowClipped; high += st.highClipped; region += st.regionClipped; clipCount += st.clipCount;
        }
        const res = opt.step(grads.tensors, { lr, loss: lossSum });
        grads.clear();
        gradNorm = res.gradNorm;
        if (res.skipped) {
          skipped = res.reason;
          log(`step ${trainer.step + 1}: update skipped (${res.reason}); weights unchanged`);
        }
      }
      const t4 = performance.now();
      trainer.step++;
      // Reward metrics describe the policy: every sampled completion, not only the kept groups.
      const sampledRewards = sampled.flatMap((g) => g.rewards);
      const col = (k: number) => sampledRewards.map((r) => r[k]);
      const rewardStats = Object.fromEntries(rewardFns.map((f, k) => [f.name, meanStd(col(k))]));
      const share = (name: string, ok: (r: number) => boolean) => meanStd(col(rewardFns.findIndex((f) => f.name === name)).map((r) => (ok(r) ? 1 : 0))).mean;
      const m: GrpoStepMetrics = {
        step: trainer.step, totalSteps: config.steps, loss: lossSum / config.numIterations, lr, gradNorm,
        rewards: rewardStats, reward: meanStd(sampled.flatMap((g) => g.weighted)).mean,
        accuracy: share('accuracy', (r) => r === 1), formatRate: share('format', (r) => r > 0),
        kl: tokens ? klSum / tokens : 0, entropy: tokens ? entSum / tokens : 0,
        clipRatio: { low: clipCount ? low / clipCount : 0, high: clipCount ? high / clipCount : 0, region: clipCount ? region / clipCount : 0 },
        completionLength: numItems / B,
        fracRewardZeroStd: sampled.filter((g) => g.flat).length / sampled.length,
        promptsSampled: sampled.length,
        rolloutTokensPerSecond: sampled.reduce((s, g) => s + g.rollouts.reduce((n, r) => n + r.completionIds.length, 0), 0) / rolloutSeconds,
        updateTokensPerSecond: (numItems + batch.reduce((s, b) => s + b.inputs.inputIds.length, 0)) * config.numIterations / ((t4 - t3) / 1000),
        seconds: { rollout: rolloutSeconds, reward: rewardSeconds, reference: (t3 - t2) / 1000, update: (t4 - t3) / 1000 },
        ...(skipped ? { skipped } : {}),
      };
      metrics.append(m);
      opts.onStep?.(m);
      if (trainer.step === config.steps || (config.saveEvery && trainer.step % config.saveEvery === 0)) {
        checkpoint = join(config.output, `checkpoint-${trainer.step}`);
        await saveCheckpoint(checkpoint, { ...trained.saved(), like: config.model, optimizer: opt.state(), trainer: { ...trainer } });
        await writeCurves(config.output, metrics.history);
        log(`saved ${checkpoint}`);
      }
    }
    return { steps: trainer.step, checkpoint, metrics: metrics.history };
  } finally {
    await source.close?.();
  }
}

/** reward.svg, kl.svg and length.svg beside the checkpoints. */
async function writeCurves(dir: string, h: GrpoStepMetrics[]): Promise<void> {
  const pts = (f: (m: GrpoStepMetrics) => number): [number, number][] => h.map((m) => [m.step, f(m)]);
  await writeFileAtomic(join(dir, 'reward.svg'), lineChartSvg([
    { name: 'reward (weighted sum)', points: pts((m) => m.reward) },
    { name: 'accuracy', points: pts((m) => m.accuracy) },
    { name: 'format', points: pts((m) => m.formatRate) },
  ], { title: 'GRPO rewards', xLabel: 'step', yLabel: 'mean over completions' }));
  await writeFileAtomic(join(dir, 'kl.svg'), lineChartSvg([{ name: 'KL to reference', points: pts((m) => m.kl) }], { title: 'GRPO KL', xLabel: 'step', yLabel: 'mean k3 KL per token' }));
  await writeFileAtomic(join(dir, 'length.svg'), lineChartSvg([{ name: 'completion length', points: pts((m) => m.completionLength) }], { title: 'GRPO completion length', xLabel: 'step', yLabel: 'tokens' }));
}
