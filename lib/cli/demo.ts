// `gmai demo`: the whole pipeline with nothing to download. With the model the package ships
// (models/gmai-demo, trained by `gmai demo train`), it draws a held-out synthetic question,
// streams the model's reasoning and checks the parsed answer. Without it (a trimmed install) it
// falls back to a tiny random model, whose "reasoning" is noise: then it shows the machinery only.
// `gmai demo train` reproduces the shipped model: SFT then GRPO on 2 CPU cores (lib/demo/train-demo.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { heldOutQuestion, readDemoInfo, shippedDemoModel } from '../demo/shipped-model.js';
import { writeTinyModel } from '../demo/tiny-model.js';
import { DEMO_DEFAULTS, trainDemo, type HeldOutScore } from '../demo/train-demo.js';
import { startModelServer, type ModelServer } from '../infer/server.js';
import { numberOption, parseCommand, stringOption, type CommandSpec } from './command.js';
import { displayText } from './display.js';

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'Ask the shipped demo model (trained on synthetic images) a held-out question, streaming its reasoning (no download).',
  options: {
    question: { type: 'string', value: 'N', description: 'which held-out question to ask (default: a random one)' },
    model: { type: 'string', value: 'DIR', description: 'a model trained by `gmai demo train` (default: the shipped models/gmai-demo)' },
    seed: { type: 'string', value: 'S', description: 'seed of the random fallback model and of its sampling (default 1)' },
    'max-tokens': { type: 'string', value: 'N', description: 'tokens to generate (default 160)' },
  },
  notes: '`gmai demo train --help`: retrain the demo model (SFT, then GRPO) on this machine\'s CPU.',
};

export const demoTrainCommand: CommandSpec = {
  name: 'demo train',
  summary: 'Train the demo model from random weights on 2 CPU cores (about 7 minutes): synthetic data, SFT on reasoning traces, then GRPO; ' +
    'prints held-out accuracy and format rate of both models next to chance and writes OUTPUT/demo-report.json.',
  options: {
    output: { type: 'string', value: 'DIR', description: 'folder for data, checkpoints, reward.svg and demo-report.json (default gmai-demo-train)' },
    seed: { type: 'string', value: 'S', description: `seed of the data, the initial weights and both runs (default ${DEMO_DEFAULTS.seed})` },
    train: { type: 'string', value: 'N', description: `train questions (default ${DEMO_DEFAULTS.trainCount}; the last ${DEMO_DEFAULTS.grpoCount} are GRPO's)` },
    'held-out': { type: 'string', value: 'N', description: `held-out questions (default ${DEMO_DEFAULTS.heldOutCount})` },
    'sft-epochs': { type: 'string', value: 'N', description: `SFT epochs (default ${DEMO_DEFAULTS.sft.epochs})` },
    'grpo-steps': { type: 'string', value: 'N', description: `GRPO steps (default ${DEMO_DEFAULTS.grpo.steps})` },
  },
};

/** A 448×448 grey image with two darker "lung fields" and a brighter "mediastinum". */
export async function syntheticRadiograph(path: string, size = 448): Promise<void> {
  const px = Buffer.alloc(size * size);
  const lung = (x: number, y: number, cx: number) => ((x - cx) / (size * 0.17)) ** 2 + ((y - size * 0.52) / (size * 0.3)) ** 2 < 1;
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    let v = 150 + 40 * Math.sin(y / 9) * Math.exp(-(((x - size / 2) / (size * 0.35)) ** 2)); // ribs
    if (lung(x, y, size * 0.3) || lung(x, y, size * 0.7)) v -= 90;
    if (Math.abs(x - size / 2) < size * 0.07) v += 50; // mediastinum
    px[y * size + x] = Math.max(0, Math.min(255, Math.round(v)));
  }
  writeFileSync(path, await sharp(px, { raw: { width: size, height: size, channels: 1 } }).png().toBuffer());
}

function printTimings(r: Awaited<ReturnType<ModelServer['askImage']>>): void {
  process.stdout.write(`timings: preprocess ${r.timings.preprocessMs.toFixed(0)} ms, first token ${r.timings.firstTokenMs.toFixed(0)} ms, ` +
    `${r.tokens.length} tokens at ${r.timings.tokensPerSecond.toFixed(0)} tok/s\n`);
}

export async function demo(argv: string[]): Promise<number> {
  if (argv[0] === 'train') return demoTrain(argv.slice(1));
  const v = parseCommand(demoCommand, argv);
  if (!v) return 0;
  const seed = numberOption(v, 'seed', 1, { integer: true, min: 0 });
  const maxNewTokens = numberOption(v, 'max-tokens', 160, { integer: true, min: 1 });
  const questionIndex = numberOption(v, 'question', undefined, { integer: true, min: 0 });
  const given = stringOption(v, 'model');
  const trained = given ?? shippedDemoModel();
  const dir = mkdtempSync(join(tmpdir(), 'gmai-demo-'));
  try {
    if (trained) return await askTrained(trained, dir, questionIndex, maxNewTokens);
    process.stderr.write('the shipped demo model is missing: writing a tiny random Qwen2.5-VL model and a synthetic radiograph …\n');
    await writeTinyModel(join(dir, 'model'), { seed });
    const image = join(dir, 'radiograph.png');
    await syntheticRadiograph(image);
    const server = await startModelServer(join(dir, 'model'));
    try {
      const question = 'Which finding is most consistent with this chest radiograph?';
      const options = ['Right lower lobe pneumonia', 'Pneumothorax', 'Normal study', 'Pleural effusion'];
      process.stdout.write(`Q: ${question}\n${options.map((o, i) => `  ${'ABCD'[i]}. ${o}`).join('\n')}\n\nmodel (untrained, random weights): `);
      const r = await server.askImage({
        image, question, options,
        generation: { maxNewTokens, temperature: 1, seed },
        onToken: (text) => process.stdout.write(displayText(text)),
      });
      process.stdout.write(`\n\nparsed: letter=${r.letter ?? '(none)'} format_ok=${r.formatOk}\n`);
      printTimings(r);
    } finally {
      await server.close();
    }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One held-out question of the trained model's data set, answered greedily. */
async function askTrained(modelDir: string, tmp: string, questionIndex: number | undefined, maxNewTokens: number): Promise<number> {
  const info = readDemoInfo(modelDir);
  const index = questionIndex ?? Math.floor(Math.random() * info.data.heldOutCount);
  const { example, png } = await heldOutQuestion(info, index);
  const image = join(tmp, `held-out-${index}.png`);
  writeFileSync(image, png);
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  process.stderr.write(`model: ${modelDir} (trained by \`gmai demo train\`; held-out accuracy ${pct(info.grpo.accuracy)}, chance ${pct(info.chance)})\n`);
  const server = await startModelServer(modelDir);
  try {
    process.stdout.write(`held-out question ${index} (${example.modality}, ${example.scene.width}×${example.scene.height} synthetic image, not seen in training):\n`);
    process.stdout.write(`Q: ${example.question}\n${Object.entries(example.options).map(([k, o]) => `  ${k}. ${o}`).join('\n')}\n\nmodel: `);
    const r = await server.askImage({
      image, question: example.question, options: example.options,
      generation: { maxNewTokens, temperature: 0 },
      onToken: (text) => process.stdout.write(displayText(text)),
    });
    const verdict = r.letter === null ? 'no answer parsed' : r.letter === example.answer ? 'correct' : `wrong (correct: ${example.answer})`;
    process.stdout.write(`\n\nparsed: letter=${r.letter ?? '(none)'} format_ok=${r.formatOk}: ${verdict}\n`);
    printTimings(r);
    return 0;
  } finally {
    await server.close();
  }
}

async function demoTrain(argv: string[]): Promise<number> {
  const v = parseCommand(demoTrainCommand, argv);
  if (!v) return 0;
  const output = stringOption(v, 'output') ?? 'gmai-demo-train';
  const seed = numberOption(v, 'seed', DEMO_DEFAULTS.seed, { integer: true, min: 0 });
  // the last grpoCount questions are GRPO's, so SFT needs more than that
  const trainCount = numberOption(v, 'train', DEMO_DEFAULTS.trainCount, { integer: true, min: DEMO_DEFAULTS.grpoCount + 1 });
  const heldOutCount = numberOption(v, 'held-out', DEMO_DEFAULTS.heldOutCount, { integer: true, min: 1 });
  const epochs = numberOption(v, 'sft-epochs', DEMO_DEFAULTS.sft.epochs, { min: 0.01 });
  const steps = numberOption(v, 'grpo-steps', DEMO_DEFAULTS.grpo.steps, { integer: true, min: 1 });
  const abort = new AbortController();
  const onSigint = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  const t0 = performance.now();
  const stamp = () => `[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s]`;
  try {
    const r = await trainDemo({
      output, seed, trainCount, heldOutCount, sft: { epochs }, grpo: { steps }, signal: abort.signal,
      onLog: (line) => process.stderr.write(`${stamp()} ${line}\n`),
      onSftStep: (m) => { if (m.step % 10 === 0 || m.step === m.totalSteps) process.stderr.write(`${stamp()} SFT step ${m.step}/${m.totalSteps}: loss ${m.loss.toFixed(3)}\n`); },
      onGrpoStep: (m) => process.stderr.write(`${stamp()} GRPO step ${m.step}/${m.totalSteps}: reward ${m.reward.toFixed(3)} ` +
        `(accuracy ${m.accuracy.toFixed(2)}, format ${m.formatRate.toFixed(2)}), KL ${m.kl.toFixed(4)}, length ${m.completionLength.toFixed(0)}, ` +
        `${m.promptsSampled} prompts (${(100 * m.fracRewardZeroStd).toFixed(0)}% of groups all equal)\n`),
    });
    const row = (name: string, s: { accuracy: number; formatRate: number } | null) =>
      `  ${name.padEnd(12)} ${s ? `${(100 * s.accuracy).toFixed(1).padStart(5)}%   ${(100 * s.formatRate).toFixed(1).padStart(5)}%` : '(not scored)'}\n`;
    process.stdout.write(`\nheld-out (${r.heldOut} questions, greedy decoding):\n  ${''.padEnd(12)} accuracy  format\n` +
      `  ${'chance'.padEnd(12)} ${(100 * r.chance).toFixed(1).padStart(5)}%\n` + row('SFT', r.sft) + row('SFT + GRPO', r.grpo));
    const tasks = Object.keys(r.grpo.byTask);
    const byTask = (name: string, s: HeldOutScore | null) => s ? `  ${name.padEnd(12)} ${tasks.map((t) => `${(100 * (s.byTask[t] ?? NaN)).toFixed(0).padStart(t.length)}%`).join(' ')}\n` : '';
    process.stdout.write(`\naccuracy by question type (SFT traces: ${r.sftTasks.join(', ')}):\n  ${''.padEnd(12)} ${tasks.map((t) => `${t} `).join(' ')}\n` +
      byTask('SFT', r.sft) + byTask('SFT + GRPO', r.grpo));
    const ex = r.example;
    process.stdout.write(`\none held-out image (${ex.image}):\nQ: ${ex.question}\n${Object.entries(ex.options).map(([k, o]) => `  ${k}. ${o}`).join('\n')}\n` +
      `model: ${displayText(ex.text)}\nparsed: ${ex.letter ?? '(none)'}; correct: ${ex.answer}\n`);
    process.stdout.write(`\nreward curve: ${join(output, 'grpo', 'reward.svg')}\nreport: ${join(output, 'demo-report.json')}\n` +
      `model: ${r.model.dir} (gmai demo --model ${r.model.dir})\ntime: ${r.seconds.total.toFixed(0)} s\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
