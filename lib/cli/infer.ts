// `gmai infer --model DIR --image FILE --question TEXT [--options "A=…" …]`: streams the
// model's reasoning about one image, then prints the parsed answer.
import { shippedDemoModel } from '../demo/shipped-model.js';
import { startModelServer } from '../infer/server.js';
import { numberOption, parseCommand, stringOption, UsageError, type CommandSpec } from './command.js';
import { displayText } from './display.js';

export const inferCommand: CommandSpec = {
  name: 'infer',
  summary: 'Ask a model a multiple-choice question about an image; streams its reasoning, then prints the parsed answer.',
  required: ['image', 'question'],
  options: {
    model: { type: 'string', value: 'DIR', description: 'model folder (config.json, safetensors, tokenizer.json; default: the shipped demo model)' },
    image: { type: 'string', value: 'FILE', description: 'PNG, JPEG, WebP, TIFF or DICOM (.dcm) file; small images are upscaled' },
    question: { type: 'string', value: 'TEXT', description: 'the question' },
    options: { type: 'string', value: '"A=text"', multiple: true, description: 'an answer option (repeat; plain texts are lettered in order)' },
    'max-tokens': { type: 'string', value: 'N', description: 'longest answer in tokens (default 1024)' },
    temperature: { type: 'string', value: 'T', description: 'sampling temperature, 0 = greedy (default 0)' },
    seed: { type: 'string', value: 'S', description: 'random seed (default 0)' },
    window: { type: 'string', value: 'C,W', description: 'DICOM VOI window centre,width (default: the file\'s, else min-max)' },
    frame: { type: 'string', value: 'N', description: 'frame of a multi-frame DICOM, counting from 0 (default 0)' },
  },
};

/** Options given as "A=text" (or plain texts, lettered in order). */
export function parseOptionArgs(values: string[]): Record<string, string> | string[] {
  if (values.every((v) => /^[A-Ja-j]\s*[=:.)]/.test(v))) {
    return Object.fromEntries(values.map((v) => [v[0].toUpperCase(), v.replace(/^[A-Ja-j]\s*[=:.)]\s*/, '')]));
  }
  return values;
}

/** `--window C,W` → { center, width }, checked (width ≥ 1). */
export function parseWindow(text: string | undefined): { center: number; width: number } | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
  if (parts.length !== 2 || !parts.every(Number.isFinite) || parts[1] < 1) {
    throw new UsageError(`option --window must be CENTER,WIDTH with a width of at least 1 (e.g. 40,400), got '${text}'`, 'infer');
  }
  return { center: parts[0], width: parts[1] };
}

export async function infer(argv: string[]): Promise<number> {
  const v = parseCommand(inferCommand, argv);
  if (!v) return 0;
  const model = stringOption(v, 'model') ?? shippedDemoModel(), image = stringOption(v, 'image')!, question = stringOption(v, 'question')!;
  const options = parseOptionArgs((v.options as string[] | undefined) ?? []);
  // Every value is checked before the model loads.
  const window = parseWindow(stringOption(v, 'window'));
  const frame = numberOption(v, 'frame', undefined, { integer: true, min: 0 });
  const generation = {
    maxNewTokens: numberOption(v, 'max-tokens', 1024, { integer: true, min: 1 }),
    temperature: numberOption(v, 'temperature', 0, { min: 0 }),
    seed: numberOption(v, 'seed', 0, { integer: true, min: 0 }),
  };
  if (!model) throw new UsageError('option --model is required (this install has no shipped demo model)', 'infer');
  const isDicom = /\.(dcm|dicom)$/i.test(image);
  process.stderr.write(`loading ${model} …\n`);
  const server = await startModelServer(model);
  const abort = new AbortController();
  const onSigint = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  try {
    const r = await server.askImage({
      image: isDicom || window || frame !== undefined ? { dicom: image, window, frame } : image,
      question, options, signal: abort.signal, generation,
      onToken: (text) => process.stdout.write(displayText(text)),
    });
    process.stdout.write('\n\n');
    process.stdout.write(`answer: ${r.letter ?? '(none)'}${r.answer ? `  (${displayText(r.answer)})` : ''}\n`);
    process.stdout.write(`format ok: ${r.formatOk}; ${r.tokens.length} tokens in ${(r.timings.generateMs / 1000).toFixed(2)} s ` +
      `(${r.timings.tokensPerSecond.toFixed(1)} tok/s, first token after ${r.timings.firstTokenMs.toFixed(0)} ms), finish: ${r.finishReason}\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    await server.close();
  }
}
