// `gmai infer --model DIR --image FILE --question TEXT [--options "A=…" …]`: streams the
// model's reasoning about one image, then prints the parsed answer.
import { startModelServer } from '../infer/server.js';
import { numberOption, option, parseArgs } from './args.js';

export const inferUsage = 'usage: gmai infer --model DIR --image FILE --question TEXT [--options "A=text" ...] [--max-tokens N] [--temperature T] [--seed S] [--window C,W] [--frame N]';

/** Options given as "A=text" (or plain texts, lettered in order). */
export function parseOptionArgs(values: string[]): Record<string, string> | string[] {
  if (values.every((v) => /^[A-Ja-j]\s*[=:.)]/.test(v))) {
    return Object.fromEntries(values.map((v) => [v[0].toUpperCase(), v.replace(/^[A-Ja-j]\s*[=:.)]\s*/, '')]));
  }
  return values;
}

export async function infer(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const model = option(args, 'model'), image = option(args, 'image'), question = option(args, 'question');
  if (!model || !image || !question) { process.stderr.write(`${inferUsage}\n`); return 2; }
  const options = parseOptionArgs(args.options.get('options') ?? []);
  const windowArg = option(args, 'window');
  const window = windowArg ? (([center, width]) => ({ center, width }))(windowArg.split(',').map(Number)) : undefined;
  const frame = option(args, 'frame') !== undefined ? numberOption(args, 'frame', 0) : undefined;
  const isDicom = /\.(dcm|dicom)$/i.test(image);
  process.stderr.write(`loading ${model} …\n`);
  const server = await startModelServer(model);
  const abort = new AbortController();
  const onSigint = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  try {
    const r = await server.askImage({
      image: isDicom || window || frame !== undefined ? { dicom: image, window, frame } : image,
      question, options, signal: abort.signal,
      generation: {
        maxNewTokens: numberOption(args, 'max-tokens', 1024),
        temperature: numberOption(args, 'temperature', 0),
        seed: numberOption(args, 'seed', 0),
      },
      onToken: (text) => process.stdout.write(text),
    });
    process.stdout.write('\n\n');
    process.stdout.write(`answer: ${r.letter ?? '(none)'}${r.answer ? `  (${r.answer})` : ''}\n`);
    process.stdout.write(`format ok: ${r.formatOk}; ${r.tokens.length} tokens in ${(r.timings.generateMs / 1000).toFixed(2)} s ` +
      `(${r.timings.tokensPerSecond.toFixed(1)} tok/s, first token after ${r.timings.firstTokenMs.toFixed(0)} ms)\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    await server.close();
  }
}
