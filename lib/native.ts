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
  /** Freed large host blocks kept for reuse (native/addon/host_cache.h), and their cap. */
  hostCacheBytes: number;
  hostCacheCapBytes: number;
}

export interface ProbeResult { value: number; seconds: number; isa: string }

export interface CudaDeviceInfo { name: string; memoryBytes: number; computeCapability: string }

/** Configuration of the native GRPO per-token loss (loss_api.cc). */
export interface GrpoTokenLossConfig {
  lossType: 'grpo' | 'bnpo' | 'dr_grpo' | 'dapo' | 'cispo' | 'sapo';
  importanceSamplingLevel?: 'token' | 'sequence';
  beta?: number;
  epsilonLow?: number;
  epsilonHigh?: number;
  /** Two-sided clipping cap of the ratio; absent or null = off. */
  delta?: number | null;
  sapoTemperaturePos?: number;
  sapoTemperatureNeg?: number;
  maxCompletionLength?: number;
  /** dapo / cispo normaliser: completion tokens of the whole batch / processes. */
  numItems?: number;
  gradientAccumulationSteps?: number;
}

export interface NativeAddon {
  // Tensors (tensor_api.cc)
  empty(dtype: number, shape: number[], device?: string): Handle;
  /** Like empty, with every byte zero. */
  zeros(dtype: number, shape: number[], device?: string): Handle;
  /** Frees the recycled host blocks; returns their bytes. */
  releaseCachedMemory(): number;
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
  gemm(a: Handle, b: Handle, c: Handle, opts: { transA?: boolean; transB?: boolean; bias?: Handle; alpha?: number; beta?: number }): void;
  gemmGroup(a: Handle, b: Handle[], c: Handle[], bias: (Handle | undefined)[], opts: { transB?: boolean }): void;
  binary(op: number, a: Handle, b: Handle, out: Handle): void;
  scale(a: Handle, out: Handle, scale: number, shift: number): void;
  swiglu(gate: Handle, up: Handle, out: Handle): void;
  swigluBackward(dy: Handle, gate: Handle, up: Handle, dgate: Handle, dup: Handle): void;
  softmax(x: Handle, out: Handle, scale: number): void;
  softmaxBackward(y: Handle, dy: Handle, dx: Handle, scale: number): void;
  sumRows(x: Handle, out: Handle, accumulate: boolean): void;
  convert(src: Handle, dst: Handle): void;
  embedding(ids: Handle, table: Handle, out: Handle): void;
  embeddingBackward(ids: Handle, dy: Handle, dtable: Handle): void;
  rmsnorm(x: Handle, w: Handle | null, out: Handle, eps: number, invRms: Handle | null): void;
  rmsnormBackward(dy: Handle, x: Handle, w: Handle | null, invRms: Handle, dx: Handle, dweight: Handle | null): void;
  runtimeInfo(): RuntimeInfo;
  /** The op list of native/include/gmai/ops.h; `cuda`: this build runs the op on CUDA tensors. */
  opTable(): { name: string; cuda: boolean }[];
  /** Lowers the scheduling priority of the calling thread and the pool (Linux); false elsewhere. */
  setComputeNice(nice: number): boolean;

  // Attention and friends (attention_api.cc)
  attention(q: Handle, k: Handle, v: Handle, out: Handle, opts: {
    causal: boolean; scale?: number; cuSeqlensQ?: Int32Array; cuSeqlensK?: Int32Array; lse?: Handle;
  }): void;
  attentionBackward(q: Handle, k: Handle, v: Handle, out: Handle, lse: Handle, dout: Handle,
    dq: Handle, dk: Handle, dv: Handle, opts: {
      causal: boolean; scale?: number; cuSeqlensQ?: Int32Array; cuSeqlensK?: Int32Array;
    }): void;
  rope(x: Handle, cos: Handle, sin: Handle, out: Handle): void;
  ropeBackward(dy: Handle, cos: Handle, sin: Handle, dx: Handle): void;
  scatterRows(dst: Handle, idx: Int32Array, src: Handle): void;
  gelu(x: Handle, out: Handle): void;
  geluBackward(dy: Handle, x: Handle, dx: Handle): void;

  // Sampling (sampling_api.cc)
  sample(logits: Handle, tokens: Handle, logprobs: Handle, raw: Handle, params: object): void;
  philox4x32(counter: Uint32Array, key: Uint32Array): Uint32Array;

  // Losses (loss_api.cc)
  tokenLogprobs(x: Handle, lmHead: Handle | null, targets: Handle, logp: Handle, lse: Handle, entropy: Handle | null,
    opts: { temperature?: number; chunkRows?: number }, grad?: { dlogp: Handle; dx: Handle; dLmHead: Handle | null }): void;
  tokenLogprobsBackward(x: Handle, lmHead: Handle | null, targets: Handle, lse: Handle, dlogp: Handle, dx: Handle,
    dLmHead: Handle | null, opts: { temperature?: number; chunkRows?: number }): void;
  grpoTokenLoss(logp: Handle, oldLogp: Handle | null, refLogp: Handle | null, advantages: Handle, mask: Handle,
    entropy: Handle | null, outputs: { dlogp: Handle; perTokenLoss: Handle; coef1: Handle; coef2: Handle; kl: Handle; stats: Handle },
    config: GrpoTokenLossConfig): void;
  // Optimiser (optim_api.cc): one call over a whole list of tensors.
  adamwStep(params: Handle[], grads: Handle[], expAvg: Handle[], expAvgSq: Handle[], modelWeights: (Handle | undefined)[] | null,
    hyper: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number[]; step: number; gradScale?: number }): void;
  sumOfSquares(tensors: Handle[]): number;

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
  'empty', 'zeros', 'releaseCachedMemory', 'fromArray', 'read', 'readFloat32', 'write', 'view', 'copy', 'dispose', 'isAlive', 'deviceOf', 'mapFile',
  'gemm', 'gemmGroup', 'binary', 'scale', 'swiglu', 'swigluBackward', 'softmax', 'softmaxBackward', 'sumRows', 'convert',
  'embedding', 'embeddingBackward', 'rmsnorm', 'rmsnormBackward', 'opTable', 'runtimeInfo', 'setComputeNice',
  'attention', 'attentionBackward', 'rope', 'ropeBackward', 'scatterRows', 'gelu', 'geluBackward',
  'sample', 'philox4x32',
  'tokenLogprobs', 'tokenLogprobsBackward', 'grpoTokenLoss',
  'adamwStep', 'sumOfSquares',
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
