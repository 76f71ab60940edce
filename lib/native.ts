// Finds and loads the native addon. Order: the CUDA build (when GMAI_DEVICE is not 'cpu'),
// then node-gyp-build's search (build/Release, then prebuilds/<platform>-<arch>). A failure
// never takes the process down without saying what was tried and how to build a binary.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** The package root (dist/ and lib/ both sit one level below it). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export type Handle = object & { readonly __brand?: 'TensorHandle' };

export interface RuntimeInfo {
  cpuIsa: 'avx512' | 'avx2' | 'portable';
  avx512bf16: boolean;
  threads: number;
  cuda: boolean;
}

/** The raw addon surface. Everything here is synchronous; see lib/ops for the typed API. */
export interface NativeAddon {
  empty(dtype: number, shape: number[], device?: string): Handle;
  fromArray(data: ArrayBufferView, dtype: number, shape: number[], copy: boolean): Handle;
  read(h: Handle): ArrayBuffer;
  readFloat32(h: Handle): Float32Array;
  write(h: Handle, data: ArrayBufferView): void;
  view(h: Handle, elementOffset: number, shape: number[], dtype?: number): Handle;
  copy(dst: Handle, src: Handle): void;
  dispose(h: Handle): void;
  isAlive(h: Handle): boolean;
  deviceOf(h: Handle): 'cpu' | 'cuda';
  runtimeInfo(): RuntimeInfo;
  /** Memory-maps a whole file (read-only file, copy-on-write pages) as a uint8 tensor. */
  mapFile(path: string): { handle: Handle; byteLength: number };
  [op: string]: unknown;
}

export interface LoadedAddon {
  addon: NativeAddon;
  path: string;
  variant: 'cpu' | 'cuda';
}

function loadAddon(): LoadedAddon {
  const tried: string[] = [];
  const errors: string[] = [];
  const want = process.env.GMAI_DEVICE ?? 'auto';  // 'cpu' | 'cuda' | 'auto'
  let cudaFallback: LoadedAddon | undefined;
  if (want !== 'cpu') {
    for (const p of [
      join(packageRoot, 'build-cuda', 'Release', 'gmai_cuda.node'),
      join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'gmai-cuda.node'),
    ]) {
      if (!existsSync(p)) continue;
      tried.push(p);
      try {
        const addon = require(p) as NativeAddon;
        const gpus = typeof addon.cudaDevices === 'function' ? (addon.cudaDevices as () => unknown[])() : [];
        // Without a GPU the CPU build is preferred (it may be newer); the CUDA build's CPU
        // backend is the fallback when there is no CPU build.
        if (gpus.length > 0 || want === 'cuda') return { addon, path: p, variant: 'cuda' };
        cudaFallback ??= { addon, path: p, variant: 'cuda' };
      } catch (e) {
        errors.push(`${p}: ${(e as Error).message}`);  // e.g. no CUDA driver: fall back to CPU
      }
    }
    if (want === 'cuda') errors.push('GMAI_DEVICE=cuda but no CUDA build loaded (npm run build:cuda)');
  }
  if (want !== 'cuda') {
    try {
      const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
      const p = nodeGypBuild.resolve(packageRoot);
      tried.push(p);
      return { addon: require(p) as NativeAddon, path: p, variant: 'cpu' };
    } catch (e) {
      errors.push((e as Error).message);
    }
    if (cudaFallback) return cudaFallback;
  }
  throw new Error(
    `gmai-vl-r1: no usable native addon for ${process.platform}-${process.arch} (node ${process.version}).\n` +
      `Tried: ${tried.length ? tried.join(', ') : join(packageRoot, 'build', 'Release') + ' and ' + join(packageRoot, 'prebuilds')}\n` +
      errors.map((m) => `  ${m.split('\n')[0]}`).join('\n') +
      `\nBuild the CPU addon with \`npm run build:native\` (needs python3, make and a C++17 compiler), ` +
      `or the CUDA one with \`npm run build:cuda\`.`,
  );
}

let loaded: LoadedAddon | undefined;

/** The addon, loaded on first use. */
export function native(): NativeAddon {
  loaded ??= loadAddon();
  return loaded.addon;
}

/** Which binary was loaded, from where. */
export function addonInfo(): LoadedAddon {
  native();
  return loaded!;
}
