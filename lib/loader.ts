// Finds and loads the native addon binary. Order: the CUDA build (when GMAI_DEVICE is not 'cpu'),
// then node-gyp-build's search (build/Release, then prebuilds/<platform>-<arch>). A failure
// never takes the process down without saying what was tried and how to build a binary.
// What the binary exports is typed in native.ts; this file only finds it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** The package root (dist/ and lib/ both sit one level below it). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface LoadedBinary {
  /** The module's exports (typed by native.ts). */
  exports: Record<string, unknown>;
  path: string;
  variant: 'cpu' | 'cuda';
}

export function loadBinary(): LoadedBinary {
  const tried: string[] = [];
  const errors: string[] = [];
  const want = process.env.GMAI_DEVICE ?? 'auto';  // 'cpu' | 'cuda' | 'auto'
  let cudaFallback: LoadedBinary | undefined;
  if (want !== 'cpu') {
    for (const p of [
      join(packageRoot, 'build-cuda', 'Release', 'gmai_cuda.node'),
      join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'gmai-cuda.node'),
    ]) {
      if (!existsSync(p)) continue;
      tried.push(p);
      try {
        const exports = require(p) as Record<string, unknown>;
        const gpus = typeof exports.cudaDevices === 'function' ? (exports.cudaDevices as () => unknown[])() : [];
        // Without a GPU the CPU build is preferred (it may be newer); the CUDA build's CPU
        // backend is the fallback when there is no CPU build.
        if (gpus.length > 0 || want === 'cuda') return { exports, path: p, variant: 'cuda' };
        cudaFallback ??= { exports, path: p, variant: 'cuda' };
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
      return { exports: require(p) as Record<string, unknown>, path: p, variant: 'cpu' };
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
