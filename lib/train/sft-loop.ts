// The SFT loop: JSONL multiple-choice records (with reasoning traces or reference answers) →
// packed micro-batches under a token budget → loss and gradients through the whole model →
// AdamW with clipping, a learning-rate schedule and a non-finite guard → metrics JSONL, a
// loss curve and atomic checkpoints that resume bit-exactly. Runs in the calling thread;
// trainSft() (train-worker.ts) runs it in a worker so the caller's event loop stays free.
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { validate, type Schema } from './config.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { AdamW } from './optim.js';
import { betweenSteps, COMMON_SCHEMA, type CommonLoopConfig, DataOrder, MetricsLog, openLoop, openTrainedModel, readLoopConfig, resumeState, type TrainCallbacks } from './loop.js';
import { GradBuffers } from './params.js';
import { lineChartSvg } from './plots.js';
import { learningRateSchedule } from './schedule.js';
import { microBatches, prepareSftExamples, type PreparedExample } from './sft-data.js';
import { sftBackward } from './sft.js';

export interface SftConfig extends CommonLoopConfig {
  /** Optimiser steps (default: one epoch's worth when `epochs` is not given either). */
  steps?: number;
  epochs?: number;
  /** Examples per optimiser step. */
  batchSize: number;
  /** Token budget of one micro-batch (prompt + completion tokens, images included). */
  maxTokens: number;
}

export const SFT_SCHEMA: Schema = {
  ...COMMON_SCHEMA,
  steps: { type: 'number', integer: true, min: 1 },
  epochs: { type: 'number', min: 0, exclusiveMin: true },
  batchSize: { type: 'number', integer: true, min: 1, default: 8 },
  maxTokens: { type: 'number', integer: true, min: 1, default: 8192 },
  learningRate: { type: 'number', min: 0, exclusiveMin: true, default: 1e-5 },
  schedule: { type: 'enum', values: ['constant', 'cosine'], default: 'cosine' },
};

export function readSftConfig(file: string): SftConfig {
  return readLoopConfig<SftConfig>(file, SFT_SCHEMA);
}

export interface SftStepMetrics {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  tokensPerSecond: number;
  /** Set when the non-finite guard skipped the step. */
  skipped?: string;
  epoch: number;
}

export interface SftResult {
  steps: number;
  finalLoss: number;
  checkpoint: string;
  metrics: SftStepMetrics[];
}

export async function runSft(raw: SftConfig, opts: TrainCallbacks<SftStepMetrics> & { resume?: boolean } = {}): Promise<SftResult> {
  const config = validate<SftConfig>(raw as unknown as Record<string, unknown>, SFT_SCHEMA, 'SFT config');
  const log = opts.onLog ?? (() => {});
  const { resumeFrom, processor, records } = await openLoop(config, opts.resume ?? false, log);
  const examples = await prepareSftExamples(records, processor, (line, message) => log(`${config.data}:${line}: skipped: ${message}`));
  if (examples.length === 0) throw new Error(`${config.data}: no usable records`);
  const totalSteps = config.steps ?? Math.max(1, Math.ceil(((config.epochs ?? 1) * examples.length) / config.batchSize));

  const ckpt = resumeFrom ? await loadCheckpoint(resumeFrom) : undefined;
  using trained = await openTrainedModel(config, ckpt, 'SFT config');
  const { model, lora, isTrainable } = trained;
  using opt = AdamW.forModel(trained.trained, { weightDecay: config.weightDecay, maxGradNorm: config.maxGradNorm });
  const trainer = resumeState(ckpt, opt, { step: 0, consumed: 0, seed: config.seed, config }, log);
  const schedule = learningRateSchedule({ kind: config.schedule, lr: config.learningRate, warmupSteps: config.warmupSteps, totalSteps });
  const metrics = new MetricsLog<SftStepMetrics>(join(config.output, 'metrics.jsonl'));
  await metrics.open(trainer.step);
  const history = metrics.history;
  using grads = new GradBuffers(trained.params);
  let checkpoint = resumeFrom ?? '';
  const order = new DataOrder(examples.length, config.seed, 'sft-order');
  while (trainer.step < totalSteps) {
    await betweenSteps(opts.signal);
    const t0 = performance.now();
    const batch: PreparedExample[] = [];
    for (let k = 0; k < config.batchSize; k++) batch.push(examples[order.at(trainer.consumed++)]);
    const completionTokens = batch.reduce((s, e) => s + e.completionIds.length, 0);
    let lossSum = 0, tokens = 0;
    let microBatch = 0;
    for (const mb of microBatches(batch, config.maxTokens)) {
      if (lora) lora.dropoutKey = { step: trainer.step, microBatch: microBatch++ };
      const r = sftBackward(model, mb, grads, { isTrainable, lossScale: 1 / completionTokens, checkpointLayers: config.activationCheckpointing, params: lora });
      lossSum += r.lossSum;
      tokens += mb.reduce((s, e) => s + e.tokens, 0);
    }
    const loss = lossSum / completionTokens;
    const lr = schedule(trainer.step);
    const res = opt.step(grads.tensors, { lr, loss });
    grads.clear();
    trainer.step++;
    const m: SftStepMetrics = {
      step: trainer.step, totalSteps, loss, lr, gradNorm: res.gradNorm, tokens,
      tokensPerSecond: tokens / ((performance.now() - t0) / 1000), epoch: trainer.consumed / examples.length,
      ...(res.skipped ? { skipped: res.reason } : {}),
    };
    if (res.skipped) log(`step ${m.step}: skipped (${res.reason}); weights unchanged`);
    metrics.append(m);
    opts.onStep?.(m);
    const last = trainer.step === totalSteps;
    if (last || (config.saveEvery && trainer.step % config.saveEvery === 0)) {
      checkpoint = join(config.output, `checkpoint-${trainer.step}`);
      await saveCheckpoint(checkpoint, { ...trained.saved(), like: config.model, optimizer: opt.state(), trainer: { ...trainer } });
      await writeFileAtomic(join(config.output, 'loss.svg'), lineChartSvg([{ name: 'training loss', points: history.map((h) => [h.step, h.loss]) }],
        { title: 'SFT loss', xLabel: 'step', yLabel: 'mean −log p per completion token' }));
      log(`saved ${checkpoint}`);
    }
  }
  return { steps: trainer.step, finalLoss: history.at(-1)?.loss ?? NaN, checkpoint, metrics: history };
}
