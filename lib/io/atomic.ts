// Atomic file replacement: write a temporary file next to the target, fsync it, rename it over
// the target, fsync the directory. Readers see the old file or the complete new one, never a
// partial one, and a failure at any step leaves the old file untouched.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** What writeFileAtomic accepts: one buffer/string, or chunks produced one at a time. */
export type AtomicData =
  | string
  | Uint8Array
  | Iterable<Uint8Array | string>
  | AsyncIterable<Uint8Array | string>;

/**
 * Writes `data` to `path` atomically (async, never blocks the event loop for the I/O).
 * Chunks are written as they are produced, so a large file need not be held in memory.
 * If producing a chunk throws, the temporary file is removed and the error is rethrown with
 * the target path in its message.
 */
export async function writeFileAtomic(path: string, data: AtomicData, opts: { mode?: number } = {}): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  let created = false;
  try {
    const fh = await open(tmp, 'wx', opts.mode ?? 0o644);
    created = true;
    try {
      for await (const chunk of chunksOf(data)) {
        // write() may take less than the whole buffer; loop until it has all of it.
        for (let done = 0; done < chunk.length;) {
          done += (await fh.write(chunk, done, chunk.length - done)).bytesWritten;
        }
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    created = false;
    await syncDirectory(dir);
  } catch (e) {
    if (created) await unlink(tmp).catch(() => {});
    throw new Error(`could not write '${path}': ${(e as Error).message}`, { cause: e });
  }
}

async function* chunksOf(data: AtomicData): AsyncGenerator<Uint8Array> {
  if (typeof data === 'string') yield Buffer.from(data, 'utf8');
  else if (data instanceof Uint8Array) yield data;
  else for await (const c of data) yield typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
}

/** Flushes a file's data to disk (fsync), e.g. after copying it. */
export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Makes a rename (or a new entry) durable. Some filesystems refuse fsync on a directory: that is fine. */
export async function syncDirectory(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'ENOTSUP') throw e;
  } finally {
    await fh?.close();
  }
}
