// `gmai bench <what>`: dispatches to the benchmark modules in lib/bench/.
const benches: Record<string, () => Promise<{ run(argv: string[]): Promise<number> }>> = {
  sampling: () => import('../bench/sampling.js'),
  gemm: () => import('../bench/gemm.js'),
  model: () => import('../bench/model.js'),
  preprocess: () => import('../bench/preprocess.js'),
  generate: () => import('../bench/generate.js'),
  loss: () => import('../bench/loss.js'),
  train: () => import('../bench/train.js'),
};

export async function bench(argv: string[]): Promise<number> {
  const [what, ...rest] = argv;
  const load = what ? benches[what] : undefined;
  if (!load) {
    process.stderr.write(`usage: gmai bench <${Object.keys(benches).join('|') || 'none yet'}> [--json FILE]\n`);
    return 2;
  }
  return (await load()).run(rest);
}
