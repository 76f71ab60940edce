// `gmai train sft --config FILE.json [--resume]`: runs a training loop in a worker thread with a
// progress bar (step, loss, tokens/s, ETA); metrics.jsonl, the curves and checkpoints go to the
// config's `output` folder. Ctrl-C stops between steps; the newest checkpoint stays intact.
import { option, parseArgs } from './args.js';
import { ProgressBar } from './progress.js';

export const trainUsage = 'usage: gmai train sft --config FILE.json [--resume]\n       gmai train merge --model DIR --adapter LORA_DIR --output DIR';

export async function train(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['resume']);
  const [kind] = args.positional;
  if (kind === 'merge') return merge(args);
  const file = option(args, 'config');
  if (kind !== 'sft' || !file) {
    process.stderr.write(`${trainUsage}\n`);
    return 2;
  }
  const { readSftConfig } = await import('../train/sft-loop.js');
  const { trainSft } = await import('../train/index.js');
  let config;
  try {
    config = readSftConfig(file);
  } catch (e) {
    process.stderr.write(`gmai train: ${(e as Error).message}\n`);
    return 2;
  }
  const controller = new AbortController();
  const onSigint = () => controller.abort(new Error('interrupted (Ctrl-C): stopped between steps'));
  process.once('SIGINT', onSigint);
  let bar: ProgressBar | undefined;
  try {
    const r = await trainSft(config, {
      resume: option(args, 'resume') === 'true',
      signal: controller.signal,
      onLog: (line) => process.stderr.write(`${bar ? '\n' : ''}${line}\n`),
      onStep: (m) => {
        bar ??= new ProgressBar(m.totalSteps, 'sft');
        bar.tick(1, `loss ${m.loss.toFixed(4)} lr ${m.lr.toExponential(2)} ${m.tokensPerSecond.toFixed(0)} tok/s${m.skipped ? ' (skipped)' : ''}`);
      },
    });
    bar?.finish();
    process.stdout.write(`done: ${r.steps} steps, final loss ${r.finalLoss.toFixed(4)}, checkpoint ${r.checkpoint}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`\ngmai train: ${(e as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** `gmai train merge`: base + PEFT LoRA adapter → a plain checkpoint (W + (alpha/r)·B·A, the base's dtypes). */
async function merge(args: ReturnType<typeof parseArgs>): Promise<number> {
  const model = option(args, 'model'), adapter = option(args, 'adapter'), output = option(args, 'output');
  if (!model || !adapter || !output) {
    process.stderr.write(`${trainUsage}\n`);
    return 2;
  }
  const { mergeLora } = await import('../train/lora.js');
  try {
    await mergeLora(model, adapter, output);
  } catch (e) {
    process.stderr.write(`gmai train merge: ${(e as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`merged ${adapter} into ${model}: ${output}\n`);
  return 0;
}
