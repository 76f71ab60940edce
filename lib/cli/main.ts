// `gmai <command> [options]`: each command lives in its own module under lib/cli/. To add one,
// add a row to `commands`; `gmai help <command>` runs it with --help.
import { info } from './info.js';
import { didYouMean, UsageError } from './command.js';

type Command = (argv: string[]) => Promise<number | void>;

const commands: Record<string, { run: Command; help: string }> = {
  info: { run: info, help: 'backends, CPU features, threads and GPUs of this install' },
  demo: { run: (argv) => import('./demo.js').then((m) => m.demo(argv)), help: 'the full pipeline on an embedded tiny model (no download)' },
  infer: { run: (argv) => import('./infer.js').then((m) => m.infer(argv)), help: 'ask a model a multiple-choice question about an image (streams reasoning)' },
  eval: { run: (argv) => import('./eval.js').then((m) => m.evaluate(argv)), help: 'multiple-choice accuracy over a JSONL data set, with reports' },
  serve: { run: (argv) => import('./serve.js').then((m) => m.serve(argv)), help: 'OpenAI-compatible chat-completions HTTP server' },
  train: { run: (argv) => import('./train.js').then((m) => m.train(argv)), help: 'fine-tune a model: gmai train sft|grpo --config FILE.json [--resume]; gmai train merge --model DIR --adapter LORA_DIR --output DIR' },
  bench: { run: (argv) => import('./bench.js').then((m) => m.bench(argv)), help: 'kernel, model, server and training benchmarks (gmai bench gemm|serve|loss|...)' },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.help}`);
  return `usage: gmai <command> [options]\n\ncommands:\n${lines.join('\n')}\n\n'gmai <command> --help' or 'gmai help <command>' shows a command's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  let [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name ? 0 : 1;
  }
  if (name === 'help') {
    if (!rest.length) { process.stdout.write(usage()); return 0; }
    [name, rest] = [rest[0], ['--help']];
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`gmai: unknown command '${name}'${didYouMean(name, Object.keys(commands))}\n\n${usage()}`);
    return 2;
  }
  try {
    return (await cmd.run(rest)) ?? 0;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    const command = e.command || name;
    process.stderr.write(`gmai ${command}: ${e.message}\n('gmai ${command} --help' lists the options)\n`);
    return 2;
  }
}
