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
  /**
   * Host memory of freed large tensors kept for reuse (a training step allocates the same sizes
   * every time; recycling them spares a page fault per 4 KB), and the most that is kept:
   * GMAI_HOST_CACHE_MB (default 1024; 0 turns recycling off).
   */
  hostCache: { cachedBytes: number; capBytes: number };
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
    hostCache: { cachedBytes: info.hostCacheBytes, capBytes: info.hostCacheCapBytes },
  };
}

/** Hands the recycled host blocks back to the system (see Runtime.hostCache); returns their bytes. */
export function releaseCachedMemory(): number {
  return native().releaseCachedMemory();
}
