// Finds and loads the native addon binary, and says in one line which one and why.
//
// CPU addon, first match wins:
//   1. GMAI_ADDON=/path/to/file.node (an explicit binary);
//   2. build/Release/gmai.node: a local build, which exists only when someone compiled one
//      (a git checkout's `npm install`, or `npm run build:native` asked for it);
//   3. prebuilds/<platform>-<arch>/*.node: the prebuilt binary shipped in the npm package.
//   (2 and 3 are node-gyp-build's search: it checks the N-API version and libc tags.)
// CUDA addon (it also carries the CPU backend): build-cuda/Release/gmai_cuda.node (a local
// `npm run build:cuda`), else the optional package @gmai-vl-r1/linux-x64-cuda. A CUDA binary is
// taken only where an NVIDIA driver is present and a test load in a child process finds a GPU:
// a binary that crashes on load (wrong driver, missing symbol) takes the child down, never this
// process. GMAI_DEVICE=cpu skips CUDA; GMAI_DEVICE=cuda requires it.
// What the binary exports is typed in native.ts; this file only finds it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** The package root (dist/ and lib/ both sit one level below it). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The optional package that carries the CUDA build for this platform. */
export const CUDA_PACKAGE = `@gmai-vl-r1/${process.platform}-${process.arch}-cuda`;

export interface LoadedBinary {
  /** The module's exports (typed by native.ts). */
  exports: Record<string, unknown>;
  path: string;
  variant: 'cpu' | 'cuda';
  /** One line: which backend is live and why (shown by `gmai info`). */
  reason: string;
}

interface Candidate { path: string; from: string }

/** Seconds a CUDA test load may take (driver initialisation can take a few seconds). */
const PROBE_TIMEOUT_MS = 60_000;

export function loadBinary(): LoadedBinary {
  const want = process.env.GMAI_DEVICE ?? 'auto';  // 'cpu' | 'cuda' | 'auto'
  if (want !== 'cpu' && want !== 'cuda' && want !== 'auto') {
    throw new Error(`gmai-vl-r1: GMAI_DEVICE must be cpu, cuda or auto (got '${want}')`);
  }
  const tried: string[] = [];
  let whyNotCuda = 'GMAI_DEVICE=cpu';
  let cudaFallback: LoadedBinary | undefined;

  if (want !== 'cpu') {
    const found = findCuda();
    if (!found.candidate) {
      whyNotCuda = found.why;
    } else if (want === 'auto' && !hasNvidiaDriver()) {
      whyNotCuda = `${found.candidate.from} is installed but there is no NVIDIA driver (/proc/driver/nvidia/version)`;
    } else {
      const c = found.candidate;
      tried.push(c.path);
      const probe = probeCuda(c.path);
      if (probe.ok && probe.gpus.length > 0) {
        const exports = require(c.path) as Record<string, unknown>;
        const names = [...new Set(probe.gpus)].join(', ');
        return { exports, path: c.path, variant: 'cuda', reason: `cuda: ${c.from}, ${probe.gpus.length} GPU(s) found by a test load (${names})` };
      }
      whyNotCuda = probe.ok ? `${c.from} found no GPU in its test load` : `${c.from} failed its test load: ${probe.error}`;
      if (want === 'cuda') {
        throw new Error(`gmai-vl-r1: GMAI_DEVICE=cuda, but ${whyNotCuda}`);
      }
      // Its CPU backend still works: the last resort when no CPU binary exists.
      if (probe.ok) cudaFallback = { exports: {}, path: c.path, variant: 'cuda', reason: '' };
    }
    if (want === 'cuda') {
      throw new Error(`gmai-vl-r1: GMAI_DEVICE=cuda, but ${whyNotCuda}. ` +
        `Install ${CUDA_PACKAGE} (npm install ${CUDA_PACKAGE}) or build one: npm run build:cuda`);
    }
  }

  const errors: string[] = [];
  const cpu = findCpu(errors);
  if (cpu) {
    tried.push(cpu.path);
    try {
      const exports = require(cpu.path) as Record<string, unknown>;
      return { exports, path: cpu.path, variant: 'cpu', reason: `cpu: ${cpu.from} (${whyNotCuda})` };
    } catch (e) {
      errors.push(`${cpu.path}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (cudaFallback) {
    const exports = require(cudaFallback.path) as Record<string, unknown>;
    return { ...cudaFallback, exports, reason: `cpu (in the CUDA build ${cudaFallback.path}): no CPU binary loaded; ${whyNotCuda}` };
  }
  throw new Error(
    `gmai-vl-r1: no usable native addon for ${process.platform}-${process.arch} (node ${process.version}, N-API 8).\n` +
      `Tried: ${tried.length ? tried.join(', ') : 'nothing found'}\n` +
      errors.map((m) => `  ${m.split('\n')[0]}`).join('\n') +
      `\nThe npm package ships a prebuilt binary for linux-x64 (glibc). Elsewhere, build one from source ` +
      `(needs python3, make and a C++17 compiler): npm explore gmai-vl-r1 -- npm run build:native ` +
      `(in a git checkout: npm run build:native). See docs/installation.md.`,
  );
}

/** The CPU binary: GMAI_ADDON, else node-gyp-build's search (local build, then prebuilds). */
function findCpu(errors: string[]): Candidate | undefined {
  const explicit = process.env.GMAI_ADDON;
  if (explicit) {
    if (existsSync(explicit)) return { path: resolve(explicit), from: `GMAI_ADDON=${explicit}` };
    errors.push(`GMAI_ADDON=${explicit}: no such file`);
    return undefined;
  }
  try {
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    const path = nodeGypBuild.resolve(packageRoot);
    const rel = relative(packageRoot, path);
    return { path, from: rel.startsWith('build') ? `local build ${rel}` : `prebuilt binary ${rel}` };
  } catch (e) {
    errors.push((e as Error).message.split('\n')[0]);
    return undefined;
  }
}

/** A local CUDA build first (a developer's), else the optional CUDA package. */
function findCuda(): { candidate?: Candidate; why: string } {
  const local = join(packageRoot, 'build-cuda', 'Release', 'gmai_cuda.node');
  if (existsSync(local)) return { candidate: { path: local, from: `local CUDA build ${relative(packageRoot, local)}` }, why: '' };
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${CUDA_PACKAGE}/package.json`, { paths: [packageRoot] });
  } catch {
    return { why: `${CUDA_PACKAGE} is not installed` };
  }
  const path = join(dirname(pkgJson), 'gmai_cuda.node');
  if (!existsSync(path)) return { why: `${CUDA_PACKAGE} has no gmai_cuda.node (in a git checkout: npm run package:cuda)` };
  return { candidate: { path, from: CUDA_PACKAGE }, why: '' };
}

/** The NVIDIA kernel driver is loaded (Linux); without it no CUDA binary can see a GPU. */
function hasNvidiaDriver(): boolean {
  return process.platform !== 'linux' || existsSync('/proc/driver/nvidia/version');
}

type Probe = { ok: true; gpus: string[] } | { ok: false; error: string };

/** Loads the binary in a child process and lists its GPUs; a crash there is only reported. */
export function probeCuda(path: string): Probe {
  const script = 'const m = require(process.argv[1]);' +
    'process.stdout.write(JSON.stringify((m.cudaDevices ? m.cudaDevices() : []).map((d) => d.name)));';
  const r = spawnSync(process.execPath, ['-e', script, path], {
    encoding: 'utf8', timeout: PROBE_TIMEOUT_MS, env: { ...process.env, GMAI_DEVICE: 'cpu' }, windowsHide: true,
  });
  if (r.error) return { ok: false, error: r.error.message };
  if (r.status !== 0) {
    const last = r.stderr.trim().split('\n').filter((l) => /error|Error/.test(l))[0] ?? r.stderr.trim().split('\n')[0] ?? '';
    return { ok: false, error: r.signal ? `killed by ${r.signal}` : `exit code ${r.status}${last ? ': ' + last.trim() : ''}` };
  }
  try {
    return { ok: true, gpus: JSON.parse(r.stdout) as string[] };
  } catch {
    return { ok: false, error: `unexpected output: ${r.stdout.slice(0, 200)}` };
  }
}
