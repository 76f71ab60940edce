// `gmai <command> [options]`: each command lives in its own module under lib/cli/.
import { info } from './info.js';

type Command = (argv: string[]) => Promise<number | void>;

const commands: Record<string, { run: Command; help: string }> = {
  info: { run: info, help: 'backends, CPU features, threads and GPUs of this install' },
  demo: { run: (argv) => import('./demo.js').then((m) => m.demo(argv)), help: 'the full pipeline on an embedded tiny model (no download)' },
  infer: { run: (argv) => import('./infer.js').then((m) => m.infer(argv)), help: 'ask a model a multiple-choice question about an image (streams reasoning)' },
  eval: { run: (argv) => import('./eval.js').then((m) => m.evaluate(argv)), help: 'multiple-choice accuracy over a JSONL data set, with reports' },
  train: { run: (argv) => import('./train.js').then((m) => m.train(argv)), help: 'fine-tune a model: gmai train sft --config FILE.json [--resume]; gmai train merge --model DIR --adapter LORA_DIR --output DIR' },
  bench: { run: (argv) => import('./bench.js').then((m) => m.bench(argv)), help: 'kernel and model benchmarks (gmai bench gemm|...)' },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.help}`);
  return `usage: gmai <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 1;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`gmai: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return (await cmd.run(rest)) ?? 0;
}
