// The safetensors header: parsing and validation, no I/O. Layout of a file:
//   8 bytes   little-endian u64 N = header length
//   N bytes   UTF-8 JSON: { "__metadata__"?: {str: str}, name: {dtype, shape, data_offsets}, ... }
//   rest      the data section; data_offsets are relative to its first byte
// The layout rules match the reference Rust library (huggingface/safetensors, Metadata::validate
// and read_metadata): header at most 100 MB, tensors sorted by offsets must tile the data
// section exactly (no gaps, no overlaps, no unused bytes at the end), and each tensor's byte
// range must be exactly numel x element size.
import { DType } from '../dtype.js';

/** Largest header the reference library accepts (its MAX_HEADER_SIZE). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Element types by their safetensors name. Known names we cannot hold map to null. */
const FILE_DTYPES: Record<string, { dtype: DType | null; bytes: number }> = {
  F64: { dtype: 'float64', bytes: 8 },
  F32: { dtype: 'float32', bytes: 4 },
  F16: { dtype: 'float16', bytes: 2 },
  BF16: { dtype: 'bfloat16', bytes: 2 },
  I64: { dtype: 'int64', bytes: 8 },
  I32: { dtype: 'int32', bytes: 4 },
  I16: { dtype: 'int16', bytes: 2 },
  I8: { dtype: 'int8', bytes: 1 },
  U8: { dtype: 'uint8', bytes: 1 },
  BOOL: { dtype: 'bool', bytes: 1 },
  U64: { dtype: null, bytes: 8 },
  U32: { dtype: null, bytes: 4 },
  U16: { dtype: null, bytes: 2 },
  F8_E5M2: { dtype: null, bytes: 1 },
  F8_E4M3: { dtype: null, bytes: 1 },
};

const SUPPORTED = Object.keys(FILE_DTYPES).filter((k) => FILE_DTYPES[k].dtype !== null);

/** Our dtype → the safetensors name. */
export const FILE_DTYPE_OF: Record<DType, string> = {
  float64: 'F64', float32: 'F32', float16: 'F16', bfloat16: 'BF16', int64: 'I64',
  int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};

/**
 * The order the reference writer lays tensors out in: its Dtype enum, largest alignment first
 * (so every tensor after an 8-byte-aligned header is aligned), then by name.
 */
export const WRITE_ORDER: readonly string[] = [
  'U64', 'I64', 'F64', 'F32', 'U32', 'I32', 'BF16', 'F16', 'U16', 'I16', 'F8_E4M3', 'F8_E5M2', 'I8', 'U8', 'BOOL',
];

/** A malformed file or a request it cannot satisfy. `file` (and `tensor`) say where. */
export class SafetensorsError extends Error {
  readonly file: string;
  readonly tensor?: string;
  constructor(file: string, message: string, tensor?: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.name = 'SafetensorsError';
    this.file = file;
    this.tensor = tensor;
  }
}

export interface TensorEntry {
  name: string;
  /** The name in the file (F32, BF16, ...). */
  fileDtype: string;
  /** Our dtype, or null for a valid safetensors type this package cannot hold (U32, F8...). */
  dtype: DType | null;
  shape: number[];
  /** Byte range relative to the data section. */
  begin: number;
  end: number;
}

export interface ParsedHeader {
  /** Length of the JSON header in bytes (the data section starts at 8 + headerBytes). */
  headerBytes: number;
  entries: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

/** Reads the 8-byte length prefix; checks it against the file size. */
export function readHeaderLength(file: string, prefix: Uint8Array, fileBytes: number): number {
  if (fileBytes < 8) {
    throw new SafetensorsError(file, `file is ${fileBytes} bytes long, shorter than the 8-byte header length`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(file, `header length ${n} is larger than the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  }
  if (Number(n) + 8 > fileBytes) {
    throw new SafetensorsError(file, `header length ${n} runs past the end of the ${fileBytes}-byte file (truncated?)`);
  }
  return Number(n);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Sets an own property, so that a key such as "__proto__" stays a plain entry. */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

const isOffset = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses and validates the JSON header. `dataBytes` is the size of the data section
 * (file size - 8 - header length).
 */
export function parseHeader(file: string, headerBytes: Uint8Array, dataBytes: number): ParsedHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(file, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw new SafetensorsError(file, 'header JSON is not an object');

  let metadata: Record<string, string> = {};
  const entries = new Map<string, TensorEntry>();
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') metadata = parseMetadata(file, raw);
    else entries.set(name, parseEntry(file, name, raw, dataBytes));
  }
  checkTiling(file, [...entries.values()], dataBytes);
  return { headerBytes: headerBytes.length, entries, metadata };
}

function parseMetadata(file: string, raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === null) return out;  // the reference library reads null as "no metadata"
  if (!isPlainObject(raw)) throw new SafetensorsError(file, '__metadata__ is not an object of strings');
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw new SafetensorsError(file, `__metadata__ value '${k}' is not a string`);
    setOwn(out, k, v);
  }
  return out;
}

function parseEntry(file: string, name: string, raw: unknown, dataBytes: number): TensorEntry {
  const fail = (why: string): never => { throw new SafetensorsError(file, `tensor '${name}': ${why}`, name); };
  if (!isPlainObject(raw)) fail('header entry is not an object');
  const e = raw as Record<string, unknown>;
  if (!('dtype' in e)) fail('header entry has no dtype');
  if (!('shape' in e)) fail('header entry has no shape');
  if (!('data_offsets' in e)) fail('header entry has no data_offsets');
  if (typeof e.dtype !== 'string') fail('dtype is not a string');
  const fileDtype = e.dtype as string;
  if (!Object.hasOwn(FILE_DTYPES, fileDtype)) fail(`unknown dtype '${fileDtype}' (known: ${Object.keys(FILE_DTYPES).join(', ')})`);
  if (!Array.isArray(e.shape)) fail('shape is not an array');
  const shape = e.shape as unknown[];
  for (const d of shape) {
    if (!isOffset(d)) fail(`shape [${shape.join(', ')}] has a dimension that is not a non-negative integer`);
  }
  const offs = e.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !isOffset(offs[0]) || !isOffset(offs[1])) {
    fail(`data_offsets ${JSON.stringify(offs)} is not [begin, end] with non-negative integers`);
  }
  const [begin, end] = offs as [number, number];
  if (begin > end) fail(`data_offsets [${begin}, ${end}] has begin after end`);
  if (end > dataBytes) fail(`data_offsets [${begin}, ${end}] runs past the end of the ${dataBytes}-byte data section`);
  const { dtype, bytes } = FILE_DTYPES[fileDtype];
  let expected = bytes;
  for (const d of shape as number[]) {
    expected *= d;
    if (!Number.isSafeInteger(expected)) fail(`shape [${shape.join(', ')}] is too large`);
  }
  if (expected !== end - begin) {
    fail(`shape [${shape.join(', ')}] of ${fileDtype} needs ${expected} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  return { name, fileDtype, dtype, shape: shape as number[], begin, end };
}

/** Sorted by offsets, the tensors must cover [0, dataBytes) exactly once. */
function checkTiling(file: string, list: TensorEntry[], dataBytes: number): void {
  list.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: TensorEntry | undefined;
  for (const t of list) {
    if (t.begin < pos) {
      throw new SafetensorsError(file, `tensor '${t.name}' [${t.begin}, ${t.end}] overlaps tensor '${prev!.name}' [${prev!.begin}, ${prev!.end}]`, t.name);
    }
    if (t.begin > pos) {
      const after = prev ? `after tensor '${prev.name}'` : 'at the start of the data section';
      throw new SafetensorsError(file, `${t.begin - pos} unused bytes ${after}, before tensor '${t.name}'`, t.name);
    }
    pos = t.end;
    prev = t;
  }
  if (pos !== dataBytes) {
    throw new SafetensorsError(file, `${dataBytes - pos} unused bytes at the end of the data section (tensors end at ${pos} of ${dataBytes})`);
  }
}

export function unsupportedDtypeMessage(entry: TensorEntry): string {
  return `tensor '${entry.name}' has dtype ${entry.fileDtype}, which gmai-vl-r1 cannot hold (supported: ${SUPPORTED.join(', ')})`;
}
