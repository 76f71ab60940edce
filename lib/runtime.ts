// What the loaded addon can do on this machine: backend(s), CPU features, threads, GPU.
import { addonInfo, native } from './native.js';

export interface Runtime {
  /** Path of the loaded binary and whether it has the CUDA backend. */
  addonPath: string;
  /** One line: which backend is live and why (e.g. no CUDA package, no driver, no GPU). */
  backendReason: string;
  backends: ('cpu' | 'cuda')[];
  cpuIsa: 'avx512' | 'avx2' | 'portable';
  avx512bf16: boolean;
  threads: number;
  gpus: { name: string; memoryBytes: number }[];
}

export function runtimeInfo(): Runtime {
  const { path, variant, reason } = addonInfo();
  const info = native().runtimeInfo();
  const gpus = variant === 'cuda' ? native().cudaDevices?.() ?? [] : [];
  return {
    addonPath: path,
    backendReason: reason,
    backends: gpus.length ? ['cpu', 'cuda'] : ['cpu'],
    cpuIsa: info.cpuIsa,
    avx512bf16: info.avx512bf16,
    threads: info.threads,
    gpus,
  };
}
