import { runtimeInfo } from '../runtime.js';

export async function info(): Promise<number> {
  const r = runtimeInfo();
  const lines = [
    `backend:   ${r.backendReason}`,
    `addon:     ${r.addonPath}`,
    `backends:  ${r.backends.join(', ')}`,
    `cpu:       ${r.cpuIsa}${r.avx512bf16 ? ' (+avx512_bf16)' : ''}`,
    `threads:   ${r.threads} (GMAI_NUM_THREADS to change)`,
    ...(r.gpus.length
      ? r.gpus.map((g, i) => `gpu ${i}:     ${g.name}, ${(g.memoryBytes / 2 ** 30).toFixed(1)} GiB`)
      : ['gpu:       none (CPU build or no CUDA device)']),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
