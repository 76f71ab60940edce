// `gmai train sft|grpo --config FILE.json [--resume]`: runs a training loop in a worker thread
// with a progress bar; metrics.jsonl, the curves and checkpoints go to the config's `output`
// folder. Ctrl-C stops between steps; the newest checkpoint stays intact.
import { parseCommand, UsageError, type CommandSpec } from './command.js';
import { ProgressBar } from './progress.js';

const kinds = ['sft', 'grpo'] as const;
type Kind = (typeof kinds)[number];

const mergeSpec: CommandSpec = {
  name: 'train merge',
  summary: 'A LoRA adapter (PEFT layout) merged into its base model: a plain checkpoint with W + (alpha/r)·B·A in the base\'s dtypes.',
  required: ['model', 'adapter', 'output'],
  options: {
    model: { type: 'string', value: 'DIR', description: 'the base model folder' },
    adapter: { type: 'string', value: 'LORA_DIR', description: 'adapter folder (adapter_model.safetensors + adapter_config.json)' },
    output: { type: 'string', value: 'DIR', description: 'where the merged checkpoint is written (atomically)' },
  },
};

/** `gmai train merge`: base + PEFT LoRA adapter → a plain checkpoint. */
async function merge(argv: string[]): Promise<number> {
  const v = parseCommand(mergeSpec, argv);
  if (!v) return 0;
  const { mergeLora } = await import('../train/lora.js');
  const [model, adapter, output] = [v.model, v.adapter, v.output] as string[];
  try {
    await mergeLora(model, adapter, output);
  } catch (e) {
    process.stderr.write(`gmai train merge: ${(e as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`merged ${adapter} into ${model}: ${output}\n`);
  return 0;
}

const spec = (kind: Kind): CommandSpec => ({
  name: `train ${kind}`,
  summary: kind === 'sft'
    ? 'Supervised fine-tuning on JSONL multiple-choice records (reasoning traces in `response`, else the reference letter).'
    : 'GRPO with accuracy and format rewards and a KL term to the starting model (the GMAI-VL-R1 recipe).',
  required: ['config'],
  options: {
    config: { type: 'string', value: 'FILE.json', description: 'training config (keys: docs/training.md)' },
    resume: { type: 'boolean', description: "continue from the newest checkpoint in the config's output folder" },
  },
  notes: 'See docs/training.md for every config key and its default.',
});

export async function train(argv: string[]): Promise<number> {
  const [kind, ...rest] = argv;
  if (!kind || kind === '--help' || kind === '-h') {
    process.stdout.write('usage: gmai train sft|grpo --config FILE.json [--resume]\n       gmai train merge --model DIR --adapter LORA_DIR --output DIR\n\n' +
      "'gmai train sft --help', 'gmai train grpo --help' and 'gmai train merge --help' list the options.\n");
    return kind ? 0 : 2;
  }
  if (kind === 'merge') return merge(rest);
  if (!(kinds as readonly string[]).includes(kind)) throw new UsageError(`unknown training kind '${kind}' (sft or grpo)`, 'train');
  const v = parseCommand(spec(kind as Kind), rest);
  if (!v) return 0;
  const file = v.config as string, resume = v.resume === true;
  const api = await import('../train/index.js');
  let config;
  try {
    config = kind === 'sft' ? api.readSftConfig(file) : api.readGrpoConfig(file);
  } catch (e) {
    process.stderr.write(`gmai train ${kind}: ${(e as Error).message}\n`);
    return 2;
  }
  const controller = new AbortController();
  const onSigint = () => controller.abort(new Error('interrupted (Ctrl-C): stopped between steps'));
  process.once('SIGINT', onSigint);
  let bar: ProgressBar | undefined;
  const onLog = (line: string) => process.stderr.write(`${bar ? '\n' : ''}${line}\n`);
  try {
    if (kind === 'sft') {
      const r = await api.trainSft(config as Parameters<typeof api.trainSft>[0], {
        resume, signal: controller.signal, onLog,
        onStep: (m) => {
          bar ??= new ProgressBar(m.totalSteps, 'sft');
          bar.tick(1, `loss ${m.loss.toFixed(4)} lr ${m.lr.toExponential(2)} ${m.tokensPerSecond.toFixed(0)} tok/s${m.skipped ? ' (skipped)' : ''}`);
        },
      });
      bar?.finish();
      process.stdout.write(`done: ${r.steps} steps, final loss ${r.finalLoss.toFixed(4)}, checkpoint ${r.checkpoint}\n`);
    } else {
      const r = await api.trainGrpo(config as Parameters<typeof api.trainGrpo>[0], {
        resume, signal: controller.signal, onLog,
        onStep: (m) => {
          bar ??= new ProgressBar(m.totalSteps, 'grpo');
          bar.tick(1, `reward ${m.reward.toFixed(3)} acc ${m.accuracy.toFixed(2)} fmt ${m.formatRate.toFixed(2)} kl ${m.kl.toExponential(1)} len ${m.completionLength.toFixed(0)} flat ${(100 * m.fracRewardZeroStd).toFixed(0)}%`);
        },
      });
      bar?.finish();
      const last = r.metrics.at(-1);
      process.stdout.write(`done: ${r.steps} steps, reward ${last?.reward.toFixed(3)}, accuracy ${last?.accuracy.toFixed(3)}, checkpoint ${r.checkpoint}\n`);
    }
    return 0;
  } catch (e) {
    process.stderr.write(`\ngmai train ${kind}: ${(e as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
