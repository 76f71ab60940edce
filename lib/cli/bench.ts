// `gmai bench <what>`: dispatches to the benchmark modules in lib/bench/.
const benches: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
  sampling: () => import('../bench/sampling.js'),
  gemm: () => import('../bench/gemm.js'),
  model: () => import('../bench/model.js'),
  preprocess: () => import('../bench/preprocess.js'),
  generate: () => import('../bench/generate.js'),
  loss: () => import('../bench/loss.js'),
  grpo: () => import('../bench/grpo.js'),
  serve: () => import('../bench/serve.js'),
  train: () => import('../bench/train.js'),
};

export async function bench(argv: string[]): Promise<number> {
  const [what, ...rest] = argv;
  const usage = `usage: gmai bench <${Object.keys(benches).join('|')}> [--json FILE] ('gmai bench <what> --help' for its options)\n`;
  if (what === '--help' || what === '-h') { process.stdout.write(usage); return 0; }
  const load = what ? benches[what] : undefined;
  if (!load) {
    process.stderr.write(usage);
    return 2;
  }
  return (await load()).run(rest);
}
