// Reading and writing safetensors files.
//
// openSafetensors() memory-maps the file (native mapFile) and hands out tensors lazily: a
// tensor whose bytes are aligned for its dtype is a zero-copy view of the mapping, others are
// copied. Views keep the mapping alive after close(). Opening is synchronous and cheap (one
// mmap and a JSON parse); get() is cheap for views and a memcpy for copies.
//
// saveSafetensors() is async and streams: the header first, then each tensor in chunks, into
// a temporary file that replaces the target only once complete (writeFileAtomic).
import { statSync } from 'node:fs';
import { join } from 'node:path';

import { DType, dtypeBytes, dtypeCode } from '../dtype.js';
import { Handle, native } from '../native.js';
import { MAX_DIMS, Tensor } from '../tensor.js';
import { writeFileAtomic } from './atomic.js';
import {
  FILE_DTYPE_OF, ParsedHeader, SafetensorsError, TensorEntry, WRITE_ORDER,
  parseHeader, readHeaderLength, setOwn, unsupportedDtypeMessage,
} from './safetensors-header.js';
import { openSafetensorsIndex } from './safetensors-index.js';

export { SafetensorsError } from './safetensors-header.js';

export interface TensorInfo {
  dtype: DType;
  shape: number[];
  byteLength: number;
}

/** An open safetensors file (or a sharded set of them behind an index). */
export interface SafetensorsReader extends Disposable {
  /** The path given to openSafetensors. */
  readonly path: string;
  /** `__metadata__` of the file (for an index: its "metadata", values as strings). */
  readonly metadata: Record<string, string>;
  /** Tensor names, sorted. */
  keys(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** The tensor: a zero-copy view of the mapping when aligned, else a copy. Dispose it. */
  get(name: string): Tensor;
  /** Releases the mapping(s); tensors already handed out stay valid. Idempotent. */
  close(): void;
}

const dtypeOf = (file: string, e: TensorEntry): DType => {
  if (e.dtype === null) throw new SafetensorsError(file, unsupportedDtypeMessage(e), e.name);
  return e.dtype;
};

/** One memory-mapped .safetensors file. */
export class SafetensorsFile implements SafetensorsReader {
  readonly path: string;
  readonly metadata: Record<string, string>;
  #map: Handle | undefined;
  readonly #header: ParsedHeader;
  readonly #dataStart: number;

  constructor(path: string) {
    this.path = path;
    let map: Handle, fileBytes: number;
    try {
      ({ handle: map, byteLength: fileBytes } = native().mapFile(path));
    } catch (e) {
      throw new SafetensorsError(path, (e as Error).message.replace(`'${path}'`, 'the file'), undefined, { cause: e });
    }
    try {
      const prefix = readBytes(map, 0, Math.min(8, fileBytes));
      const n = readHeaderLength(path, prefix, fileBytes);
      this.#header = parseHeader(path, readBytes(map, 8, n), fileBytes - 8 - n);
      this.#dataStart = 8 + n;
    } catch (e) {
      native().dispose(map);
      throw e;
    }
    this.#map = map;
    this.metadata = this.#header.metadata;
  }

  keys(): string[] {
    return [...this.#header.entries.keys()].sort();
  }

  has(name: string): boolean {
    return this.#header.entries.has(name);
  }

  info(name: string): TensorInfo {
    const e = this.#entry(name);
    return { dtype: dtypeOf(this.path, e), shape: [...e.shape], byteLength: e.end - e.begin };
  }

  get(name: string): Tensor {
    const e = this.#entry(name);
    const dtype = dtypeOf(this.path, e);
    if (e.shape.length > MAX_DIMS) {
      throw new SafetensorsError(this.path, `tensor '${name}' has ${e.shape.length} dimensions; at most ${MAX_DIMS} are supported`, name);
    }
    const map = this.#mapping(name);
    try {
      return this.#read(map, e, dtype);
    } catch (err) {
      // e.g. a shape the addon refuses: say which file and tensor it came from
      throw new SafetensorsError(this.path, `tensor '${name}' could not be read: ${(err as Error).message}`, name, { cause: err });
    }
  }

  #read(map: Handle, e: TensorEntry, dtype: DType): Tensor {
    const at = this.#dataStart + e.begin;
    if (at % dtypeBytes[dtype] === 0) {
      // The mapping is page-aligned, so the file offset decides the alignment: zero copy.
      return new Tensor(native().view(map, at, e.shape, dtypeCode[dtype]), dtype, e.shape, 'cpu');
    }
    const bytes = native().view(map, at, [e.end - e.begin]);
    try {
      const out = Tensor.empty(e.shape, { dtype });
      try {
        native().copy(out.handle, bytes);
      } catch (err) {
        out.dispose();
        throw err;
      }
      return out;
    } finally {
      native().dispose(bytes);
    }
  }

  close(): void {
    if (this.#map) native().dispose(this.#map);
    this.#map = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #entry(name: string): TensorEntry {
    const e = this.#header.entries.get(name);
    if (!e) throw new SafetensorsError(this.path, `no tensor named '${name}' (the file has ${this.#header.entries.size})`, name);
    return e;
  }

  #mapping(name: string): Handle {
    if (!this.#map) throw new SafetensorsError(this.path, `cannot read tensor '${name}': the file was closed`, name);
    return this.#map;
  }
}

/** A copy of `length` bytes at `offset` of a uint8 tensor. */
function readBytes(map: Handle, offset: number, length: number): Uint8Array {
  const v = native().view(map, offset, [length]);
  try {
    return new Uint8Array(native().read(v));
  } finally {
    native().dispose(v);
  }
}

/**
 * Opens a `.safetensors` file, a sharded checkpoint's `*.safetensors.index.json`, or a model
 * folder (its `model.safetensors.index.json`, else its `model.safetensors`). Synchronous.
 */
export function openSafetensors(path: string): SafetensorsReader {
  if (typeof path !== 'string' || path === '') throw new TypeError('openSafetensors: path must be a non-empty string');
  let target = path;
  if (isDirectory(path)) {
    const index = join(path, 'model.safetensors.index.json');
    target = isFile(index) ? index : join(path, 'model.safetensors');
  }
  if (target.endsWith('.json')) return openSafetensorsIndex(target, (p) => new SafetensorsFile(p));
  return new SafetensorsFile(target);
}

function isDirectory(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}
function isFile(p: string): boolean {
  try { return statSync(p).isFile(); } catch { return false; }
}

export type TensorMap = Record<string, Tensor> | Map<string, Tensor>;

/** Bytes of one tensor handed to the writer at a time (bounds the extra memory of a save). */
const WRITE_CHUNK_BYTES = 16 << 20;

/**
 * Writes `tensors` (and optional string metadata) to `path` atomically. Tensors are laid out
 * as the reference library does (by dtype alignment, then name), so output is deterministic.
 * Each tensor is read in chunks while writing: memory use does not grow with the checkpoint.
 * Tensors must stay alive until the returned promise settles.
 */
export async function saveSafetensors(path: string, tensors: TensorMap, metadata?: Record<string, string>): Promise<void> {
  const plan = planFile(path, tensors, metadata);
  await writeFileAtomic(path, chunksOf(plan));
}

interface FilePlan {
  header: Uint8Array;
  tensors: { name: string; tensor: Tensor }[];
}

function planFile(path: string, tensors: TensorMap, metadata?: Record<string, string>): FilePlan {
  const fail = (why: string, tensor?: string): never => { throw new SafetensorsError(path, `cannot save: ${why}`, tensor); };
  const list: { name: string; tensor: Tensor; fileDtype: string }[] = [];
  const named = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors ?? fail('tensors must be an object or a Map'));
  for (const [name, tensor] of named) {
    if (typeof name !== 'string' || name === '') fail(`tensor names must be non-empty strings (got ${JSON.stringify(name)})`);
    if (name === '__metadata__') fail(`'__metadata__' is reserved and cannot name a tensor`, name);
    if (!(tensor instanceof Tensor)) fail(`'${name}' is not a Tensor`, name);
    if (tensor.disposed) fail(`tensor '${name}' was disposed`, name);
    list.push({ name, tensor, fileDtype: FILE_DTYPE_OF[tensor.dtype] });
  }
  const utf8 = (s: string) => Buffer.from(s, 'utf8');
  list.sort((a, b) => WRITE_ORDER.indexOf(a.fileDtype) - WRITE_ORDER.indexOf(b.fileDtype) || Buffer.compare(utf8(a.name), utf8(b.name)));

  const json: Record<string, unknown> = {};
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) fail('metadata must be an object of strings');
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') fail(`metadata value '${k}' is not a string`);
    const copy: Record<string, string> = {};
    for (const [k, v] of Object.entries(metadata)) setOwn(copy, k, v);
    setOwn(json, '__metadata__', copy);
  }
  let offset = 0;
  for (const { name, tensor, fileDtype } of list) {
    const entry = { dtype: fileDtype, shape: [...tensor.shape], data_offsets: [offset, offset + tensor.byteLength] };
    setOwn(json, name, entry);  // own property even for a tensor named __proto__
    offset += tensor.byteLength;
  }
  const text = JSON.stringify(json);
  const padded = text + ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const body = utf8(padded);
  const header = new Uint8Array(8 + body.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(body.length), true);
  header.set(body, 8);
  return { header, tensors: list };
}

function* chunksOf(plan: FilePlan): Generator<Uint8Array> {
  yield plan.header;
  for (const { name, tensor } of plan.tensors) {
    if (tensor.byteLength === 0) continue;
    let bytes: Handle;
    try {
      // Reinterpret as raw bytes (view with the uint8 dtype) and copy out a chunk at a time.
      bytes = native().view(tensor.handle, 0, [tensor.byteLength], dtypeCode.uint8);
    } catch (e) {
      throw new Error(`tensor '${name}' could not be read: ${(e as Error).message}`, { cause: e });
    }
    try {
      for (let at = 0; at < tensor.byteLength; at += WRITE_CHUNK_BYTES) {
        yield readBytes(bytes, at, Math.min(WRITE_CHUNK_BYTES, tensor.byteLength - at));
      }
    } finally {
      native().dispose(bytes);
    }
  }
}
