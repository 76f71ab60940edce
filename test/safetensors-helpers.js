// Helpers for the safetensors tests: hand-built files (independent of saveSafetensors) and
// temporary folders.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary folder; remove it with cleanup(). */
export function tempDir(prefix = 'gmai-st-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, path: (...p) => join(dir, ...p), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The bytes of a safetensors file: `header` is an object (JSON-encoded here) or a raw string,
 * `data` the data section. `headerLength` overrides the length prefix; `pad` pads the JSON
 * with spaces to a multiple of 8 (default true).
 */
export function rawFile(header, data = new Uint8Array(0), { headerLength, pad = true } = {}) {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  let body = Buffer.from(text, 'utf8');
  if (pad && body.length % 8) body = Buffer.concat([body, Buffer.alloc(8 - (body.length % 8), 0x20)]);
  const out = Buffer.alloc(8 + body.length + data.length);
  out.writeBigUInt64LE(BigInt(headerLength ?? body.length), 0);
  body.copy(out, 8);
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 8 + body.length);
  return out;
}

export function writeRaw(path, header, data, opts) {
  writeFileSync(path, rawFile(header, data, opts));
  return path;
}

/** Splits a file into its length, parsed header JSON and data section (for tests and fuzzing). */
export function splitFile(bytes) {
  const n = Number(bytes.readBigUInt64LE(0));
  return { n, header: JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')), data: bytes.subarray(8 + n) };
}
