// GRPO with a reward function of your own, weighted beside the built-in accuracy and format
// rewards. Usage: node examples/custom-reward.mjs MODEL_DIR DATA.jsonl OUTPUT_DIR [STEPS]
// (DATA: the JSONL layouts `gmai eval` reads; `gmai demo train` or writeSyntheticDataset makes some).
import { fileURLToPath } from 'node:url';
import { runGrpo } from 'gmai-vl-r1';

/** Rewards concise reasoning: 1 for a think block of at most `maxChars` characters, fading to 0 at twice that. */
export function concise(maxChars = 120) {
  return ({ completion }) => {
    const think = /<think>([\s\S]*?)<\/think>/.exec(completion)?.[1] ?? '';
    if (!think.trim()) return 0;
    return Math.max(0, Math.min(1, 2 - think.length / maxChars));
  };
}

/** An asynchronous reward (a checker service, a judge model, a database lookup) works the same way. */
export async function mentionsModality({ completion, record }) {
  await new Promise((r) => setImmediate(r));
  return record.modality && completion.toLowerCase().includes(record.modality.split('-')[0]) ? 1 : 0;
}

export async function train(model, data, output, steps = 2, extra = {}) {
  return runGrpo(
    { model, data, output, steps, batchSize: 2, numGenerations: 4, maxCompletionLength: 48, learningRate: 1e-4, ...extra },
    {
      rewardFunctions: [
        { name: 'concise', fn: concise(), weight: 0.2 },
        { name: 'mentions_modality', fn: mentionsModality, weight: 0.1 },
      ],
      onStep: (m) => console.log(`step ${m.step}: reward ${m.reward.toFixed(3)} (concise ${m.rewards.concise.mean.toFixed(2)}, accuracy ${m.accuracy.toFixed(2)}), KL ${m.kl.toExponential(1)}`),
    },
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [model, data, output, steps] = process.argv.slice(2);
  if (!model || !data || !output) {
    console.error('usage: node examples/custom-reward.mjs MODEL_DIR DATA.jsonl OUTPUT_DIR [STEPS]');
    process.exit(2);
  }
  const r = await train(model, data, output, steps ? Number(steps) : 2);
  console.log(`done: ${r.steps} steps, checkpoint ${r.checkpoint}`);
}
