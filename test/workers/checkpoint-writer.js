// Checkpoint inputs for the checkpoint tests, and a child process that saves one (so a test can
// kill it mid-write): node checkpoint-writer.js DIR LIKE STEP  (GMAI_CHECKPOINT_TEST_PAUSE=files|swap
// makes saveCheckpoint stop at that stage and wait to be killed).
import { pathToFileURL } from 'node:url';
import { AdamW, openSafetensors, ops, saveCheckpoint } from '../../dist/index.js';

/**
 * The weights of `like` moved by a step-dependent amount (as float32, so saving rounds them to
 * the stored dtype), an AdamW that took one step on them, and a trainer state.
 */
export function checkpointInputs(like, step) {
  const reader = openSafetensors(like);
  const weights = new Map();
  try {
    for (const name of reader.keys()) {
      const stored = reader.get(name);
      const f32 = stored.dtype === 'float32' ? stored.clone() : ops.cast(stored, 'float32');
      stored.dispose();
      const a = f32.toArray();
      for (let i = 0; i < a.length; i++) a[i] += 1e-3 * step * Math.sin(i + step);
      f32.write(a);
      weights.set(name, f32);
    }
  } finally {
    reader.close();
  }
  const optimizer = AdamW.forModel(weights, { weightDecay: 0.01 });
  const grads = new Map([...weights].map(([n, w]) => [n, Float32Array.from({ length: w.size }, (_, i) => Math.cos(i * step))]));
  optimizer.step(grads, { lr: 1e-3 });
  const trainer = { step, rng: { seed: 42, counter: [step, 7] }, data: { file: 'train.jsonl', line: 10 * step }, config: { learningRate: 1e-3 } };
  const dispose = () => {
    optimizer.dispose();
    for (const w of weights.values()) w.dispose();
  };
  return { weights, optimizer, trainer, dispose };
}

export async function writeCheckpoint(dir, like, step) {
  const inputs = checkpointInputs(like, step);
  try {
    await saveCheckpoint(dir, { weights: inputs.weights, like, optimizer: inputs.optimizer.state(), trainer: inputs.trainer });
  } finally {
    inputs.dispose();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [dir, like, step] = process.argv.slice(2);
  await writeCheckpoint(dir, like, Number(step));
  process.stderr.write('gmai-checkpoint-written\n');
}
