// Worker-thread entry for training loops: the host calls `sft` (later `grpo`) through
// lib/infer/worker-rpc and receives each step's metrics and log lines as they happen, so a
// training run never blocks the event loop of the process that started it.
import { serveWorker } from '../infer/worker-rpc.js';
import { runGrpo, type GrpoConfig } from './grpo-loop.js';
import { runSft, type SftConfig } from './sft-loop.js';

export type TrainEvent<M> = { type: 'step'; metrics: M } | { type: 'log'; line: string };

serveWorker({
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
