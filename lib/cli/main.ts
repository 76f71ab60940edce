// `gmai <command> [options]`: each command lives in its own module under lib/cli/.
import { info } from './info.js';

type Command = (argv: string[]) => Promise<number | void>;

const commands: Record<string, { run: Command; help: string }> = {
  info: { run: info, help: 'backends, CPU features, threads and GPUs of this install' },
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
