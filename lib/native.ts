// The one contract between TypeScript and the addon: every function the binary exports, typed.
// lib/ops wraps these into the public op API; nothing else calls the addon untyped.
// NATIVE_EXPORTS lists the same names at run time (test/native-contract.test.js checks them
// against the loaded binary, and the compiler checks them against NativeAddon).
import { loadBinary, type LoadedBinary } from './loader.js';

export { packageRoot } from './loader.js';

/** An opaque native tensor handle. */
export type Handle = object & { readonly __brand?: 'TensorHandle' };

export interface RuntimeInfo {
  cpuIsa: 'avx512' | 'avx2' | 'portable';
  avx512bf16: boolean;
  threads: number;
  cuda: boolean;
}

export interface ProbeResult { value: number; seconds: number; isa: string }

export interface CudaDeviceInfo { name: string; memoryBytes: number; computeCapability: string }

export interface NativeAddon {
  // Tensors (tensor_api.cc)
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
  /** Memory-maps a whole file (read-only file, copy-on-write pages) as a uint8 tensor (mmap_api.cc). */
  mapFile(path: string): { handle: Handle; byteLength: number };

  // Foundation ops (ops_api.cc)
  gemm(a: Handle, b: Handle, c: Handle, opts: { transB?: boolean; bias?: Handle; alpha?: number; beta?: number }): void;
  gemmGroup(a: Handle, b: Handle[], c: Handle[], bias: (Handle | undefined)[], opts: { transB?: boolean }): void;
  binary(op: number, a: Handle, b: Handle, out: Handle): void;
  scale(a: Handle, out: Handle, scale: number, shift: number): void;
  swiglu(gate: Handle, up: Handle, out: Handle): void;
  softmax(x: Handle, out: Handle, scale: number): void;
  convert(src: Handle, dst: Handle): void;
  embedding(ids: Handle, table: Handle, out: Handle): void;
  rmsnorm(x: Handle, w: Handle | null, out: Handle, eps: number, invRms: Handle | null): void;
  runtimeInfo(): RuntimeInfo;
  /** The op list of native/include/gmai/ops.h; `cuda`: this build runs the op on CUDA tensors. */
  opTable(): { name: string; cuda: boolean }[];
  /** Lowers the scheduling priority of the calling thread and the pool (Linux); false elsewhere. */
  setComputeNice(nice: number): boolean;

  // Attention and friends (attention_api.cc)
  attention(q: Handle, k: Handle, v: Handle, out: Handle, opts: {
    causal: boolean; scale?: number; cuSeqlensQ?: Int32Array; cuSeqlensK?: Int32Array; lse?: Handle;
  }): void;
  rope(x: Handle, cos: Handle, sin: Handle, out: Handle): void;
  scatterRows(dst: Handle, idx: Int32Array, src: Handle): void;
  gelu(x: Handle, out: Handle): void;

  // Sampling (sampling_api.cc)
  sample(logits: Handle, tokens: Handle, logprobs: Handle, raw: Handle, params: object): void;
  philox4x32(counter: Uint32Array, key: Uint32Array): Uint32Array;

  // Images (image_api.cc)
  resizeBicubic(src: Handle, dst: Handle): void;

  // Machine probes for benchmarks (bench_api.cc)
  probeFmaPeak(itersPerThread?: number, reps?: number): ProbeResult;
  probeReadBandwidth(megabytes?: number, reps?: number): ProbeResult;

  /** CUDA builds only (cuda_api.cc). */
  cudaDevices?(): CudaDeviceInfo[];
}

/** Every export of NativeAddon by name; `cudaDevices` only in CUDA builds. */
export const NATIVE_EXPORTS = [
  'empty', 'fromArray', 'read', 'readFloat32', 'write', 'view', 'copy', 'dispose', 'isAlive', 'deviceOf', 'mapFile',
  'gemm', 'gemmGroup', 'binary', 'scale', 'swiglu', 'softmax', 'convert', 'embedding', 'rmsnorm', 'opTable', 'runtimeInfo', 'setComputeNice',
  'attention', 'rope', 'scatterRows', 'gelu',
  'sample', 'philox4x32',
  'resizeBicubic',
  'probeFmaPeak', 'probeReadBandwidth',
  'cudaDevices',
] as const satisfies readonly (keyof NativeAddon)[];
/** Names of NativeAddon missing from NATIVE_EXPORTS: must be `never` (a compile error otherwise). */
type Unlisted = Exclude<keyof NativeAddon, (typeof NATIVE_EXPORTS)[number]>;
const everyExportListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyExportListed;

export interface LoadedAddon {
  addon: NativeAddon;
  path: string;
  variant: 'cpu' | 'cuda';
  /** One line: which backend is live and why. */
  reason: string;
}

let loaded: LoadedAddon | undefined;

/** The binary exports every function of the contract (a stale build may lack new ones). */
function isNativeAddon(exports: Record<string, unknown>, b: LoadedBinary): exports is Record<string, unknown> & NativeAddon {
  const missing = NATIVE_EXPORTS.filter((k) => k !== 'cudaDevices' && typeof exports[k] !== 'function');
  if (missing.length) {
    throw new Error(`gmai-vl-r1: the native addon ${b.path} lacks ${missing.join(', ')}: it was built from older sources ` +
      '(rebuild it: npm run build:native, or npm run build:cuda for the CUDA build)');
  }
  return true;
}

function load(): LoadedAddon {
  const b = loadBinary();
  if (!isNativeAddon(b.exports, b)) throw new Error('unreachable');
  return { addon: b.exports, path: b.path, variant: b.variant, reason: b.reason };
}

/** The addon, loaded on first use. */
export function native(): NativeAddon {
  loaded ??= load();
  return loaded.addon;
}

/** Which binary was loaded, from where. */
export function addonInfo(): LoadedAddon {
  native();
  return loaded!;
}
