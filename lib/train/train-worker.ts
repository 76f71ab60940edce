// Worker-thread entry for training work: the host calls `sft` or `grpo` through
// lib/infer/worker-rpc and receives each step's metrics and log lines as they happen, so a
// training run never blocks the event loop of the process that started it; `syntheticDataset`
// draws a training set (seconds of CPU for a few thousand images) off that thread too.
import { writeSyntheticDataset, type SyntheticDatasetOptions } from '../data/synthetic/dataset.js';
import { serveWorker } from '../infer/worker-rpc.js';
import { runGrpo, type GrpoConfig } from './grpo-loop.js';
import { runSft, type SftConfig } from './sft-loop.js';

export type TrainEvent<M> = { type: 'step'; metrics: M } | { type: 'log'; line: string };

serveWorker({
  syntheticDataset: (_ctx, dir: string, opts: SyntheticDatasetOptions) => writeSyntheticDataset(dir, opts),
  sft: (ctx, config: SftConfig, resume: boolean) => runSft(config, {
    resume,
    signal: ctx.signal,
    onStep: (metrics) => ctx.emit({ type: 'step', metrics }),
    onLog: (line) => ctx.emit({ type: 'log', line }),
  }),
  grpo: (ctx, config: GrpoConfig, resume: boolean) => runGrpo(config, {
    resume,
    signal: ctx.signal,
    onStep: (metrics) => ctx.emit({ type: 'step', metrics }),
    onLog: (line) => ctx.emit({ type: 'log', line }),
  }),
});
