// A minimal GGUF (v3) writer, just enough to hand llama.cpp the same random Qwen2 decoder
// weights our model benchmark runs, so both are timed on identical shapes and bytes.
// Layout: header, metadata key/values, tensor infos, padding to `alignment`, tensor data.
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';

export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: string[] }
  | { type: 'i32[]'; value: number[] };

/** GGML tensor types used here (ggml.h enum values). */
export const GgmlType = { F32: 0, F16: 1, BF16: 30 } as const;

export interface GgufTensor {
  name: string;
  /** Dimensions innermost first (ggml's ne[]): a [out, in] row-major matrix is [in, out]. */
  ne: number[];
  type: number;
  data: Uint8Array;
}

const ALIGNMENT = 32;
const VT = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 } as const;

class ByteSink {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void { this.parts.push(b); this.length += b.length; }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  i32(v: number): void { const b = Buffer.alloc(4); b.writeInt32LE(v); this.push(b); }
  u64(v: number): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  f32(v: number): void { const b = Buffer.alloc(4); b.writeFloatLE(v); this.push(b); }
  str(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  concat(): Buffer { return Buffer.concat(this.parts); }
}

function writeValue(sink: ByteSink, v: GgufValue): void {
  switch (v.type) {
    case 'u32': sink.u32(VT.u32); sink.u32(v.value); break;
    case 'i32': sink.u32(VT.i32); sink.i32(v.value); break;
    case 'f32': sink.u32(VT.f32); sink.f32(v.value); break;
    case 'bool': sink.u32(VT.bool); sink.push(Buffer.from([v.value ? 1 : 0])); break;
    case 'string': sink.u32(VT.string); sink.str(v.value); break;
    case 'string[]': sink.u32(VT.array); sink.u32(VT.string); sink.u64(v.value.length); v.value.forEach((s) => sink.str(s)); break;
    case 'i32[]': sink.u32(VT.array); sink.u32(VT.i32); sink.u64(v.value.length); v.value.forEach((x) => sink.i32(x)); break;
  }
}

/** Writes a GGUF file (temp file, fsync, rename). */
export function writeGguf(path: string, metadata: Record<string, GgufValue>, tensors: GgufTensor[]): void {
  const head = new ByteSink();
  head.push(Buffer.from('GGUF', 'latin1'));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(Object.keys(metadata).length + 1);
  head.str('general.alignment');
  writeValue(head, { type: 'u32', value: ALIGNMENT });
  for (const [k, v] of Object.entries(metadata)) { head.str(k); writeValue(head, v); }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    head.str(t.name);
    head.u32(t.ne.length);
    t.ne.forEach((d) => head.u64(d));
    head.u32(t.type);
    head.u64(offset);
    offsets.push(offset);
    offset += Math.ceil(t.data.length / ALIGNMENT) * ALIGNMENT;
  }
  const pad = (n: number) => Buffer.alloc((ALIGNMENT - (n % ALIGNMENT)) % ALIGNMENT);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const h = head.concat();
    writeSync(fd, h);
    writeSync(fd, pad(h.length));
    for (const t of tensors) {
      writeSync(fd, t.data);
      writeSync(fd, pad(t.data.length));
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
