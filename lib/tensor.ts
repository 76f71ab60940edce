// Tensors: a shape, a dtype, a device and a handle to natively owned memory.
// Lifetime is explicit: call dispose() (or declare with `using`) when done; the native
// finalizer only catches what was forgotten.
import { ArrayFor, DType, TypedArray, dtypeBytes, dtypeCode, dtypeOfArray } from './dtype.js';
import { Handle, native } from './native.js';

export type Device = 'cpu' | 'cuda';
export type Shape = readonly number[];

export const MAX_DIMS = 6;

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkShape(shape: Shape, what = 'shape'): number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${what} must be an array of dimensions`);
  if (shape.length > MAX_DIMS) throw new RangeError(`${what} [${shape.join(', ')}] has more than ${MAX_DIMS} dimensions`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`${what} [${shape.join(', ')}] has a dimension that is not a non-negative integer`);
  }
  return [...shape];
}

export class Tensor<D extends DType = DType> implements Disposable {
  readonly dtype: D;
  readonly shape: Shape;
  readonly device: Device;
  #handle: Handle | undefined;

  /** Wraps a native handle (internal: use the static constructors). */
  constructor(handle: Handle, dtype: D, shape: Shape, device: Device) {
    this.#handle = handle;
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.device = device;
  }

  /** Uninitialised memory. */
  static empty<D extends DType = 'float32'>(shape: Shape, opts: { dtype?: D; device?: Device } = {}): Tensor<D> {
    const dtype = (opts.dtype ?? 'float32') as D;
    const device = opts.device ?? 'cpu';
    const s = checkShape(shape);
    return new Tensor(native().empty(dtypeCode[dtype], s, device), dtype, s, device);
  }

  /** A tensor filled with one value (float dtypes) on the CPU, then moved to `device`. */
  static full(shape: Shape, value: number, opts: { device?: Device } = {}): Tensor<'float32'> {
    return Tensor.from<'float32'>(new Float32Array(numel(shape)).fill(value), shape, opts);
  }

  /** A float32 tensor of zeros, made where it lives (no host array, no copy). */
  static zeros(shape: Shape, opts: { device?: Device } = {}): Tensor<'float32'> {
    const s = checkShape(shape), device = opts.device ?? 'cpu';
    return new Tensor<'float32'>(native().zeros(dtypeCode.float32, s, device), 'float32', s, device);
  }

  /**
   * A tensor over a typed array. On the CPU (the default), `copy: false` makes the tensor alias
   * the array's memory (zero copy) and keep it alive; do not transfer or detach the buffer while
   * it is in use. With another `device` the data is uploaded (always a copy). The dtype defaults
   * to the array's own (Uint16Array means raw bfloat16 bits).
   */
  static from<D extends DType>(
    data: TypedArray,
    shape?: Shape,
    opts: { dtype?: D; copy?: boolean; device?: Device } = {},
  ): Tensor<D> {
    const dtype = (opts.dtype ?? dtypeOfArray(data)) as D;
    const s = checkShape(shape ?? [data.byteLength / dtypeBytes[dtype]]);
    const device = opts.device ?? 'cpu';
    // An upload reads the array once, so its staging CPU tensor may alias it.
    const copy = device === 'cpu' ? opts.copy ?? true : false;
    return new Tensor<D>(native().fromArray(data, dtypeCode[dtype], s, copy), dtype, s, 'cpu').moveTo(device);
  }

  /** The native handle; throws once disposed. (The addon checks liveness again on use.) */
  get handle(): Handle {
    if (!this.#handle) {
      throw new Error(`tensor [${this.shape.join(', ')}] ${this.dtype} was used after dispose()`);
    }
    return this.#handle;
  }

  get disposed(): boolean {
    return !this.#handle || !native().isAlive(this.#handle);
  }

  get size(): number {
    return numel(this.shape);
  }

  get byteLength(): number {
    return this.size * dtypeBytes[this.dtype];
  }

  /** A copy of the data as a typed array (float32 for bfloat16/float16). */
  toArray(): ArrayFor<D> {
    const h = this.cpuHandleForRead();
    try {
      if (this.dtype === 'bfloat16' || this.dtype === 'float16') return native().readFloat32(h.handle) as ArrayFor<D>;
      const buf = native().read(h.handle);
      switch (this.dtype) {
        case 'float32': return new Float32Array(buf) as ArrayFor<D>;
        case 'float64': return new Float64Array(buf) as ArrayFor<D>;
        case 'int32': return new Int32Array(buf) as ArrayFor<D>;
        case 'int64': return new BigInt64Array(buf) as ArrayFor<D>;
        case 'int16': return new Int16Array(buf) as ArrayFor<D>;
        case 'int8': return new Int8Array(buf) as ArrayFor<D>;
        default: return new Uint8Array(buf) as ArrayFor<D>;
      }
    } finally {
      if (h.temporary) h.dispose();
    }
  }

  /** The raw bytes (bf16 stays as its 16-bit patterns). */
  toBytes(): Uint8Array {
    return new Uint8Array(native().read(this.handle));
  }

  /** Overwrites the contents from a typed array of the same byte size. */
  write(data: TypedArray): this {
    native().write(this.handle, data);
    return this;
  }

  /** A view sharing memory: `shape` starting `elementOffset` elements in. */
  view(shape: Shape, elementOffset = 0): Tensor<D> {
    const s = checkShape(shape);
    return new Tensor(native().view(this.handle, elementOffset, s), this.dtype, s, this.device);
  }

  /** Same memory, another shape of the same size. */
  reshape(shape: Shape): Tensor<D> {
    if (numel(shape) !== this.size) throw new RangeError(`cannot reshape [${this.shape.join(', ')}] to [${shape.join(', ')}]`);
    return this.view(shape, 0);
  }

  /** A copy on another device (or a plain copy on the same one). */
  to(device: Device): Tensor<D> {
    const out = Tensor.empty(this.shape, { dtype: this.dtype, device });
    native().copy(out.handle, this.handle);
    return out;
  }

  /** Consumes this tensor: `to(device)`, then dispose (even if the copy fails); itself when already there. */
  moveTo(device: Device): Tensor<D> {
    if (device === this.device) return this;
    try {
      return this.to(device);
    } finally {
      this.dispose();
    }
  }

  clone(): Tensor<D> {
    return this.to(this.device);
  }

  /** Frees the memory now (views of it keep their own reference). Idempotent. */
  dispose(): void {
    if (this.#handle) native().dispose(this.#handle);
    this.#handle = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}], ${this.device})`;
  }

  private cpuHandleForRead(): { handle: Handle; temporary: boolean; dispose(): void } {
    if (this.device === 'cpu') return { handle: this.handle, temporary: false, dispose() {} };
    const t = this.to('cpu');
    return { handle: t.handle, temporary: true, dispose: () => t.dispose() };
  }
}

/** Disposes every tensor given (arrays and undefined welcome). */
export function disposeAll(...ts: (Tensor | Tensor[] | undefined | null)[]): void {
  for (const t of ts) {
    if (Array.isArray(t)) t.forEach((x) => x.dispose());
    else t?.dispose();
  }
}

/**
 * Collects tensors made within a block and disposes them at its end (`using s = new TensorScope()`),
 * except those in `keep` (e.g. reused buffers an op wrote into).
 */
export class TensorScope implements Disposable {
  #made: Tensor[] = [];
  constructor(private readonly keep: ReadonlySet<Tensor> = new Set()) {}

  use<T extends Tensor>(t: T): T {
    if (!this.keep.has(t)) this.#made.push(t);
    return t;
  }

  useAll<T extends Tensor>(ts: T[]): T[] {
    ts.forEach((t) => this.use(t));
    return ts;
  }

  [Symbol.dispose](): void {
    disposeAll(this.#made);
    this.#made = [];
  }
}
