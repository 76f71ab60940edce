// `gmai bench grpo [--quick] [--steps N] [--generations G] [--prompt N] [--completion N] [--json FILE]`:
// one GRPO step split into its stages, each timed on its own, on (a) the tiny demo model and
// (b) the Qwen2.5-0.5B decoder shape (random bf16 weights; skipped with --quick):
//   rollout    G completions of one prompt from the batched engine (one prefill, G sequences
//              decoding as one batch), compared with the same engine's batch-1 decode of the
//              same prompt in the same run;
//   reference  log-probs of the completions without a tape (the loop's reference scoring);
//   forward    the policy forward on a tape plus the GRPO token loss (grpoTokenLoss);
//   backward   backpropagation into the fp32 gradient buffers;
//   optimizer  AdamW.step (clipping included) and clearing the gradients.
// The stages are the loop's own functions (lib/train/sft.ts, grpo-stages.ts, ops/loss.ts,
// optim.ts) called in the loop's order; runGrpo itself is not changed. Completions run to the
// full length (no stop tokens) so every step does the same work; rewards are not scored (their
// cost is string matching) and the advantages are fixed, zero-mean values. The reference stage
// runs on the policy model itself: at the first step its weights equal the reference model's, so
// the compute is the same and the second copy's memory is not spent.
// Peak memory per stage: the process's resident-set high-water mark (VmHWM), reset before the
// stage (lib/bench/loss.ts), minus the resident set at the stage's start.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numberOption, parseCommand, stringOption, type CommandSpec } from '../cli/command.js';
import { writeTinyModel } from '../demo/tiny-model.js';
import { GenerationEngine, type SamplingParams } from '../infer/engine.js';
import { ModelBackend, nativeSampler } from '../infer/model-backend.js';
import type { ModelInputs } from '../model/inputs.js';
import { loadModel, type Model } from '../model/model.js';
import { grpoTokenLoss } from '../ops/loss.js';
import { runtimeInfo } from '../runtime.js';
import { Tensor } from '../tensor.js';
import { referenceLogprobs } from '../train/grpo-stages.js';
import { AdamW } from '../train/optim.js';
import { GradBuffers, trainablePredicate } from '../train/params.js';
import { backwardInto, completionLogprobs, trainingTape } from '../train/sft.js';
import { residentBytes, resetPeak } from './loss.js';
import { randomIds, writeQwen05b } from './qwen-text.js';
import { formatTable, median, writeJsonAtomic } from './roofline.js';

export const grpoBenchCommand: CommandSpec = {
  name: 'bench grpo',
  summary: 'One GRPO step split into rollout, reference scoring, policy forward/backward and optimizer, on the tiny demo model and the Qwen2.5-0.5B decoder shape.',
  options: {
    quick: { type: 'boolean', description: 'the tiny model only (skip the 0.5B shape)' },
    steps: { type: 'string', value: 'N', description: 'timed steps per model, median reported (default 2 tiny, 1 for 0.5B)' },
    generations: { type: 'string', value: 'G', description: 'completions per prompt (default 4)' },
    prompt: { type: 'string', value: 'N', description: 'prompt tokens (default 32)' },
    completion: { type: 'string', value: 'N', description: 'completion tokens (maxCompletionLength, default 32)' },
    json: { type: 'string', value: 'FILE', description: 'also write the results as JSON' },
  },
};

const MB = 1024 * 1024;
const TEMPERATURE = 1, TOP_P = 1;  // the GRPO defaults (lib/train/grpo-loop.ts)
const STAGES = ['rollout', 'reference', 'forward', 'backward', 'optimizer'] as const;
type Stage = typeof STAGES[number];

export interface StageResult {
  stage: Stage;
  seconds: number;
  /** Share of the step's time (sum of the stages). */
  share: number;
  /** Tokens the stage processes per second: completion tokens for the rollout; prompt +
   * completion tokens of every sequence for the others; parameters for the optimizer. */
  tokensPerS?: number;
  parametersPerS?: number;
  /** Resident-set high-water mark during the stage, above the resident set at its start. */
  peakExtraMB: number;
}

export interface GrpoBenchModel {
  model: string;
  hidden: number; layers: number; vocab: number; parameters: number; trainableParameters: number;
  prompts: number; generations: number; promptTokens: number; completionTokens: number; steps: number;
  stages: StageResult[];
  stepSeconds: number;
  rollout: {
    /** Decode phase (after the prefill's first token) with the G sequences as one batch. */
    batchedDecodeTokensPerS: number;
    /** The same engine decoding one sequence of the same prompt. */
    batch1DecodeTokensPerS: number;
    ratio: number;
  };
  /** Peak extra memory of the log-prob stages compared with the full fp32 logits they avoid. */
  fullLogitsMB: number;
  /** fp32 gradient buffers (4 bytes per trainable parameter): made during backward, as in the loop. */
  gradientBuffersMB: number;
  rssMB: number;
  peakMeasured: 'VmHWM reset' | 'VmHWM (not reset)';
}

export interface GrpoBenchResult { threads: number; isa: string; models: GrpoBenchModel[] }

/** Runs `fn` with the resident-set peak reset first; its value, seconds and peak extra MB. */
async function measured<T>(fn: () => T | Promise<T>): Promise<{ value: T; seconds: number; peakExtraMB: number }> {
  resetPeak();
  const before = residentBytes();
  const t0 = performance.now();
  const value = await fn();
  const seconds = (performance.now() - t0) / 1000;
  return { value, seconds, peakExtraMB: Math.max(0, residentBytes().peak - before.rss) / MB };
}

/** G samples of `prompt` decoded together; the decode phase's time (first token onward) and tokens. */
async function decode(engine: GenerationEngine<ModelInputs>, model: Model, prompt: Int32Array, samples: number, tokens: number, seed: number) {
  const sampling: SamplingParams = { temperature: TEMPERATURE, topP: TOP_P, seed };
  // Vision placeholders only ever come from the processor (as in lib/infer/generate.ts).
  const t = model.config.tokens;
  let first = 0;
  const seqs = await engine.generate({
    prompt: { inputIds: prompt }, maxNewTokens: tokens, stopTokenIds: [], suppressTokenIds: [t.image, t.video, t.visionStart, t.visionEnd],
    numReturnSequences: samples, sampling,
  }, () => { if (!first) first = performance.now(); });
  return { seqs, decodeMs: performance.now() - first, decodeTokens: seqs.reduce((n, s) => n + s.tokens.length - 1, 0) };
}

interface Shape { prompts: number; generations: number; promptTokens: number; completionTokens: number; steps: number }

async function benchModel(name: string, model: Model, shape: Shape, say: (s: string) => void): Promise<GrpoBenchModel> {
  const { generations: G, promptTokens, completionTokens } = shape;
  const vocab = model.config.text.vocabSize;
  // Ordinary tokens below the specials (the tiny model's vocabulary is 256 bytes + specials).
  const prompt = randomIds(promptTokens, 1).map((x) => (vocab < 100_300 ? x % 256 : x));
  const engine = new GenerationEngine<ModelInputs>(new ModelBackend(model), nativeSampler, () => ({ push: () => '', flush: () => '' }));
  const isTrainable = trainablePredicate(model.weights, 'default');
  const named = model.parameters().filter(([n]) => isTrainable(n));
  using opt = AdamW.forModel(named, { weightDecay: 0, maxGradNorm: 1 });
  using grads = new GradBuffers(model.weights);
  const perStage = new Map<Stage, { seconds: number[]; peak: number[] }>(STAGES.map((s) => [s, { seconds: [], peak: [] }]));
  const record = (s: Stage, r: { seconds: number; peakExtraMB: number }) => { perStage.get(s)!.seconds.push(r.seconds); perStage.get(s)!.peak.push(r.peakExtraMB); };
  const reset = resetPeak();

  say(`${name}: warm-up …`);
  await decode(engine, model, prompt, 1, 4, 0);
  const batchedRates: number[] = [], batch1Rates: number[] = [];
  for (let step = 0; step < shape.steps; step++) {
    say(`${name}: step ${step + 1}/${shape.steps}: rollout (${G} × ${completionTokens} tokens) …`);
    const roll = await measured(() => decode(engine, model, prompt, G, completionTokens, 100 + step));
    record('rollout', roll);
    batchedRates.push(roll.value.decodeTokens / (roll.value.decodeMs / 1000));
    const batch = roll.value.seqs.map((s) => ({ inputs: { inputIds: prompt }, completionIds: Int32Array.from(s.tokens) }));
    const lengths = batch.map((b) => b.completionIds.length);
    const B = batch.length, T = Math.max(...lengths), numItems = lengths.reduce((a, b) => a + b, 0);

    say(`${name}: reference log-probs …`);
    const ref = await measured(() => referenceLogprobs(model, batch, TEMPERATURE));
    record('reference', ref);

    say(`${name}: policy forward + GRPO loss …`);
    const padded = (rows: ArrayLike<number>[]) => {
      const out = new Float32Array(B * T);
      rows.forEach((r, b) => out.set(Array.from(r), b * T));
      return Tensor.from<'float32'>(out, [B, T]);
    };
    using tape = trainingTape(model, isTrainable);
    const fwd = await measured(() => {
      const out = completionLogprobs(model, batch.map((b) => ({ ...b.inputs, completionIds: b.completionIds })), { temperature: TEMPERATURE, entropy: true, tape });
      const all = out.logp.toArray(), ent = out.entropy!.toArray();
      let at = 0;
      const rowsOf = (v: Float32Array) => lengths.map((n) => v.slice(at, (at += n)));
      const logpRows = rowsOf(all);
      at = 0;
      const entRows = rowsOf(ent);
      using logp = padded(logpRows);
      using mask = padded(lengths.map((n) => new Float32Array(n).fill(1)));
      using entropy = padded(entRows);
      using refT = padded(ref.value);
      // Fixed zero-mean advantages (rewards of random text carry no signal).
      using adv = Tensor.from<'float32'>(Float32Array.from({ length: B }, (_, b) => (b % 2 ? 1 : -1)), [B]);
      using loss = grpoTokenLoss({ logp, refLogp: refT, advantages: adv, mask, entropy }, {
        lossType: 'grpo', importanceSamplingLevel: 'token', beta: 0.04, epsilonLow: 0.2, epsilonHigh: 0.2, delta: null,
        maxCompletionLength: completionTokens, numItems, gradientAccumulationSteps: 1,
      });
      const d = loss.dlogp.toArray(), dPacked = new Float32Array(numItems);
      at = 0;
      lengths.forEach((n, b) => { for (let t = 0; t < n; t++) dPacked[at++] = d[b * T + t]; });
      return { out, dlogp: Tensor.from<'float32'>(dPacked, [numItems], { device: model.device }), loss: loss.stats.loss };
    });
    record('forward', fwd);

    say(`${name}: backward …`);
    record('backward', await measured(() => backwardInto(tape, fwd.value.out.logp, fwd.value.dlogp, grads)));
    fwd.value.out[Symbol.dispose]();

    say(`${name}: AdamW step …`);
    record('optimizer', await measured(() => { opt.step(grads.tensors, { lr: 1e-6, loss: fwd.value.loss }); grads.clear(); }));

    say(`${name}: batch-1 decode of the same prompt …`);
    const one = await decode(engine, model, prompt, 1, completionTokens, 200 + step);
    batch1Rates.push(one.decodeTokens / (one.decodeMs / 1000));
  }

  const completionTotal = G * completionTokens, sequenceTotal = G * (promptTokens + completionTokens);
  const trainable = named.reduce((n, [, t]) => n + t.size, 0);
  const seconds = new Map(STAGES.map((s) => [s, median(perStage.get(s)!.seconds)]));
  const stepSeconds = [...seconds.values()].reduce((a, b) => a + b, 0);
  const stages: StageResult[] = STAGES.map((stage) => {
    const s = seconds.get(stage)!;
    return {
      stage, seconds: s, share: s / stepSeconds,
      ...(stage === 'optimizer' ? { parametersPerS: trainable / s } : { tokensPerS: (stage === 'rollout' ? completionTotal : sequenceTotal) / s }),
      peakExtraMB: Math.max(...perStage.get(stage)!.peak),
    };
  });
  const batched = median(batchedRates), single = median(batch1Rates);
  const t = model.config.text;
  return {
    model: name, hidden: t.hiddenSize, layers: t.numLayers, vocab,
    parameters: model.parameters().reduce((n, [, w]) => n + w.size, 0), trainableParameters: trainable,
    prompts: shape.prompts, generations: G, promptTokens, completionTokens, steps: shape.steps,
    stages, stepSeconds,
    rollout: { batchedDecodeTokensPerS: batched, batch1DecodeTokensPerS: single, ratio: batched / single },
    fullLogitsMB: (completionTotal * vocab * 4) / MB,
    gradientBuffersMB: (trainable * 4) / MB,
    rssMB: residentBytes().rss / MB,
    peakMeasured: reset ? 'VmHWM reset' : 'VmHWM (not reset)',
  };
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(grpoBenchCommand, argv);
  if (!args) return 0;
  const quick = args.quick === true;
  const G = numberOption(args, 'generations', 4, { integer: true, min: 2 });
  const promptTokens = numberOption(args, 'prompt', 32, { integer: true, min: 1 });
  const completionTokens = numberOption(args, 'completion', 32, { integer: true, min: 1 });
  const steps = numberOption(args, 'steps', undefined, { integer: true, min: 1 });
  const say = (s: string) => process.stderr.write(`${s}\n`);
  const info = runtimeInfo();
  const dir = mkdtempSync(join(tmpdir(), 'gmai-bench-grpo-'));
  const models: GrpoBenchModel[] = [];
  try {
    const cases: { name: string; write: (d: string) => Promise<string>; steps: number }[] = [
      { name: 'tiny demo', write: (d) => writeTinyModel(d, { seed: 1 }), steps: steps ?? 2 },
      ...(quick ? [] : [{ name: 'Qwen2.5-0.5B shape', write: (d: string) => { say('writing random bf16 weights of Qwen2.5-0.5B (≈1 GB) …'); return writeQwen05b(d); }, steps: steps ?? 1 }]),
    ];
    for (const [i, c] of cases.entries()) {
      const model = await loadModel(await c.write(join(dir, `m${i}`)));
      try {
        models.push(await benchModel(c.name, model, { prompts: 1, generations: G, promptTokens, completionTokens, steps: c.steps }, say));
      } finally {
        model.dispose();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const f = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? '' : x.toFixed(d));
  for (const m of models) {
    process.stdout.write(`\nGRPO step, ${m.model} (hidden ${m.hidden}, ${m.layers} layers, vocab ${m.vocab}, ${(m.parameters / 1e6).toFixed(1)} M parameters, ` +
      `${(m.trainableParameters / 1e6).toFixed(1)} M trainable), ${info.threads} threads (${info.cpuIsa}); 1 prompt of ${m.promptTokens} tokens, ` +
      `G = ${m.generations}, ${m.completionTokens} completion tokens; median of ${m.steps} step(s)\n\n`);
    process.stdout.write(formatTable(['stage', 's', 'share %', 'tokens/s', 'params/s', 'peak extra MB'],
      m.stages.map((s) => [s.stage, f(s.seconds, 3), f(100 * s.share), f(s.tokensPerS), s.parametersPerS ? s.parametersPerS.toExponential(2) : '', f(s.peakExtraMB, 0)])));
    process.stdout.write(`step ${f(m.stepSeconds, 2)} s; rollout decode ${f(m.rollout.batchedDecodeTokensPerS)} tokens/s with ${m.generations} sequences as one batch vs ` +
      `${f(m.rollout.batch1DecodeTokensPerS)} tokens/s at batch 1 (×${f(m.rollout.ratio, 2)}); full fp32 logits of the completions would take ${f(m.fullLogitsMB, 0)} MB; ` +
      `backward's peak includes the fp32 gradient buffers (${f(m.gradientBuffersMB, 0)} MB); ` +
      `resident set ${f(m.rssMB, 0)} MB (${m.peakMeasured})\n`);
  }
  const result: GrpoBenchResult = { threads: info.threads, isa: info.cpuIsa, models };
  const json = stringOption(args, 'json');
  if (json) await writeJsonAtomic(json, result);
  return 0;
}
