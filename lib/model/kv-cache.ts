// Per-layer key/value cache of the text decoder: preallocated [capacity, Hkv, D] float32
// buffers on the model's device, filled front to back. A forward over new tokens writes their
// K/V rows at [length, length + n) and attends over rows [0, length + n). Capacity grows by
// doubling (one copy, on the same device) when a step would overflow it.
import { native } from '../native.js';
import { Tensor, type Device } from '../tensor.js';
import type { F32 } from './weights.js';

export interface KvLayer {
  k: F32;
  v: F32;
}

export class KvCache implements Disposable {
  #layers: KvLayer[];
  #capacity: number;
  /** Tokens already cached (the position of the next token's K/V row). */
  length = 0;

  constructor(
    readonly numLayers: number,
    readonly numKvHeads: number,
    readonly headDim: number,
    capacity: number,
    readonly device: Device = 'cpu',
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`KvCache capacity must be a positive integer, got ${capacity}`);
    this.#capacity = capacity;
    this.#layers = Array.from({ length: numLayers }, () => this.#allocate(capacity));
  }

  get capacity(): number {
    return this.#capacity;
  }

  #allocate(capacity: number): KvLayer {
    const shape = [capacity, this.numKvHeads, this.headDim];
    return { k: Tensor.empty(shape, { device: this.device }), v: Tensor.empty(shape, { device: this.device }) };
  }

  /** Copies the cached rows [0, length) of one layer's K and V into `to` (at least as large). */
  #copyCached(from: KvLayer, to: KvLayer): void {
    if (this.length === 0) return;
    const shape = [this.length, this.numKvHeads * this.headDim];
    for (const key of ['k', 'v'] as const) {
      using dst = to[key].view(shape);
      using src = from[key].view(shape);
      native().copy(dst.handle, src.handle);
    }
  }

  /** Makes room for `extra` more tokens, copying what is cached into larger buffers. */
  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.#capacity) return;
    let cap = this.#capacity;
    while (cap < need) cap *= 2;
    this.#layers = this.#layers.map((old) => {
      const fresh = this.#allocate(cap);
      this.#copyCached(old, fresh);
      old.k.dispose();
      old.v.dispose();
      return fresh;
    });
    this.#capacity = cap;
  }

  /** Views [n, Hkv, D] of layer `i` where the next `n` tokens' K and V go. */
  slot(i: number, n: number): KvLayer {
    if (this.length + n > this.#capacity) throw new RangeError(`KvCache: ${this.length} + ${n} tokens exceed capacity ${this.#capacity} (call reserve first)`);
    const shape = [n, this.numKvHeads, this.headDim];
    const offset = this.length * this.numKvHeads * this.headDim;
    const l = this.#layers[i];
    return { k: l.k.view(shape, offset), v: l.v.view(shape, offset) };
  }

  /** Views [total, Hkv, D] of layer `i`'s first `total` rows (cached + the ones being added). */
  prefix(i: number, total: number): KvLayer {
    const shape = [total, this.numKvHeads, this.headDim];
    const l = this.#layers[i];
    return { k: l.k.view(shape), v: l.v.view(shape) };
  }

  /** An independent copy (same capacity) of what is cached, e.g. to sample several continuations. */
  clone(): KvCache {
    const copy = new KvCache(this.numLayers, this.numKvHeads, this.headDim, this.#capacity, this.device);
    this.#layers.forEach((l, i) => this.#copyCached(l, copy.#layers[i]));
    copy.length = this.length;
    return copy;
  }

  /** Forgets everything after the first `length` tokens (e.g. to reuse a shared prefix). */
  truncate(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.length) throw new RangeError(`KvCache.truncate: length ${length} is not in [0, ${this.length}]`);
    this.length = length;
  }

  dispose(): void {
    for (const l of this.#layers) {
      l.k.dispose();
      l.v.dispose();
    }
    this.#layers = [];
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
