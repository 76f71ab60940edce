// Training entry points of the public API. Each loop runs in a worker thread (train-worker.ts):
// the promise resolves when it finishes, `onStep` receives every step's metrics, `signal`
// stops it between steps (the last checkpoint stays as it was).
import type { SyntheticDataset, SyntheticDatasetOptions } from '../data/synthetic/dataset.js';
import { WorkerClient } from '../infer/worker-rpc.js';
import type { GrpoConfig, GrpoResult, GrpoStepMetrics } from './grpo-loop.js';
import type { TrainCallbacks } from './loop.js';
import type { SftConfig, SftResult, SftStepMetrics } from './sft-loop.js';
import type { TrainEvent } from './train-worker.js';

async function inWorker<M, R>(method: string, args: unknown[], cb: TrainCallbacks<M>): Promise<R> {
  const client = new WorkerClient(new URL('./train-worker.js', import.meta.url));
  try {
    const it = client.stream<TrainEvent<M>, R>(method, args, { signal: cb.signal });
    let r = await it.next();
    while (!r.done) {
      if (r.value.type === 'step') cb.onStep?.(r.value.metrics);
      else cb.onLog?.(r.value.line);
      r = await it.next();
    }
    return r.value;
  } finally {
    await client.close();
  }
}

/** Supervised fine-tuning (see SftConfig); `resume` continues from the newest checkpoint in `output`. */
export function trainSft(config: SftConfig, cb: TrainCallbacks<SftStepMetrics> & { resume?: boolean } = {}): Promise<SftResult> {
  return inWorker('sft', [config, cb.resume ?? false], cb);
}

/**
 * GRPO (see GrpoConfig) in a worker. Custom reward functions cannot cross the thread boundary:
 * pass them to runGrpo (same thread) instead.
 */
export function trainGrpo(config: GrpoConfig, cb: TrainCallbacks<GrpoStepMetrics> & { resume?: boolean } = {}): Promise<GrpoResult> {
  return inWorker('grpo', [config, cb.resume ?? false], cb);
}

/** writeSyntheticDataset in a worker thread (drawing the images is CPU work). */
export function writeSyntheticDatasetInWorker(dir: string, opts: SyntheticDatasetOptions): Promise<SyntheticDataset> {
  return inWorker('syntheticDataset', [dir, opts], {});
}

export { readSftConfig, runSft } from './sft-loop.js';
export { readGrpoConfig, runGrpo } from './grpo-loop.js';
export type { SftConfig, SftResult, SftStepMetrics } from './sft-loop.js';
export type { GrpoConfig, GrpoResult, GrpoStepMetrics, GrpoRunOptions } from './grpo-loop.js';
export type { TrainCallbacks, CommonLoopConfig } from './loop.js';
