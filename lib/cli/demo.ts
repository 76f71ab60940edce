// `gmai demo`: the whole pipeline on an embedded default, with nothing to download. It writes a
// tiny random Qwen2.5-VL-shaped model and a synthetic chest radiograph, then asks a
// multiple-choice question and streams the answer. The model is untrained, so its "reasoning"
// is noise; what the demo shows is the machinery: PNG decoding, Qwen2-VL preprocessing, vision
// tower, M-RoPE decoder with KV cache, sampling, streaming from a worker, answer parsing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeTinyModel } from '../demo/tiny-model.js';
import { startModelServer } from '../infer/server.js';
import { numberOption, parseCommand, type CommandSpec } from './command.js';
import { displayText } from './display.js';

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'The whole pipeline on an embedded tiny random model and a synthetic radiograph (no download).',
  options: {
    seed: { type: 'string', value: 'S', description: 'seed of the random weights and the sampling (default 1)' },
    'max-tokens': { type: 'string', value: 'N', description: 'tokens to generate (default 96)' },
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

export async function demo(argv: string[]): Promise<number> {
  const v = parseCommand(demoCommand, argv);
  if (!v) return 0;
  const seed = numberOption(v, 'seed', 1, { integer: true, min: 0 });
  const maxNewTokens = numberOption(v, 'max-tokens', 96, { integer: true, min: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'gmai-demo-'));
  try {
    process.stderr.write('writing a tiny random Qwen2.5-VL model and a synthetic radiograph …\n');
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
      process.stdout.write(`timings: preprocess ${r.timings.preprocessMs.toFixed(0)} ms, first token ${r.timings.firstTokenMs.toFixed(0)} ms, ` +
        `${r.tokens.length} tokens at ${r.timings.tokensPerSecond.toFixed(0)} tok/s\n`);
    } finally {
      await server.close();
    }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
