// Request/response and streaming calls between the main thread and a worker thread.
// The model lives in a worker so that generation never blocks the host's event loop; this
// file is the transport only: it knows nothing about models.
import { MessagePort, Worker, isMainThread, parentPort, type TransferListItem } from 'node:worker_threads';
import { types } from 'node:util';
import { pushIterator } from './push-iterator.js';

type Request = { id: number; method: string; args: unknown[] } | { id: number; abort: true };
type Reply =
  | { id: number; chunk: unknown }
  | { id: number; result: unknown }
  | { id: number; error: { message: string; name: string; stack?: string } };

export interface CallContext {
  /** Aborted when the caller's AbortSignal fires or the client closes. */
  signal: AbortSignal;
  /** Sends one streamed chunk to the caller (for `client.stream`). */
  emit(chunk: unknown, transfer?: TransferListItem[]): void;
}

export type Handler = (ctx: CallContext, ...args: any[]) => unknown | Promise<unknown>;

/** Worker side: answers requests with the given handlers. */
export function serveWorker(handlers: Record<string, Handler>, port: MessagePort | null = parentPort): void {
  if (!port || isMainThread && port === parentPort) throw new Error('serveWorker must run inside a worker thread');
  const running = new Map<number, AbortController>();
  port.on('message', async (msg: Request) => {
    if ('abort' in msg) { running.get(msg.id)?.abort(); return; }
    const controller = new AbortController();
    running.set(msg.id, controller);
    const ctx: CallContext = {
      signal: controller.signal,
      emit: (chunk, transfer) => port.postMessage({ id: msg.id, chunk } satisfies Reply, transfer),
    };
    try {
      const handler = handlers[msg.method];
      if (!handler) throw new Error(`unknown method '${msg.method}'`);
      const result = await handler(ctx, ...msg.args);
      port.postMessage({ id: msg.id, result } satisfies Reply);
    } catch (e) {
      const err = e as Error;
      port.postMessage({ id: msg.id, error: { message: err?.message ?? String(e), name: err?.name ?? 'Error', stack: err?.stack } } satisfies Reply);
    } finally {
      running.delete(msg.id);
    }
  });
}

interface Pending {
  onChunk?: (c: unknown) => void;
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** Main side: calls into a worker started from `url`. */
export class WorkerClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  constructor(url: URL, workerData?: unknown) {
    this.worker = new Worker(url, { workerData });
    this.worker.on('message', (m: Reply) => this.onReply(m));
    // An error thrown while the worker starts (e.g. a model that does not load) may arrive as a
    // non-native Error (structured clone): callers get a real Error with its message.
    this.worker.on('error', (e) => this.failAll(types.isNativeError(e) ? e : Object.assign(new Error((e as Error)?.message ?? String(e)), { stack: (e as Error)?.stack })));
    this.worker.on('exit', (code) => this.failAll(new Error(`model worker exited (code ${code})`)));
  }

  /** Calls `method` and resolves with its result. */
  call<T>(method: string, args: unknown[] = [], opts: { signal?: AbortSignal; transfer?: TransferListItem[] } = {}): Promise<T> {
    return this.start<T>(method, args, undefined, opts.signal, opts.transfer);
  }

  /** Calls `method` and yields what it emits, then returns its result. */
  stream<C, T = unknown>(method: string, args: unknown[] = [], opts: { signal?: AbortSignal } = {}): AsyncGenerator<C, T> {
    return pushIterator<C, T>((emit) => this.start<T>(method, args, (c) => emit(c as C), opts.signal));
  }

  /** Stops the worker; calls still running reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker.terminate();
  }

  /** Lets the process exit while the worker idles (it is kept alive by pending calls only). */
  unref(): void { this.worker.unref(); }
  ref(): void { this.worker.ref(); }

  private start<T>(method: string, args: unknown[], onChunk: ((c: unknown) => void) | undefined,
                   signal?: AbortSignal, transfer?: TransferListItem[]): Promise<T> {
    if (this.closed) return Promise.reject(new Error('model worker is closed'));
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => this.worker.postMessage({ id, abort: true } satisfies Request);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        onChunk,
        resolve: (v) => { signal?.removeEventListener('abort', onAbort); resolve(v as T); },
        // An aborted call rejects with the caller's reason, not the worker's generic one.
        reject: (e) => { signal?.removeEventListener('abort', onAbort); reject(signal?.aborted ? signal.reason ?? e : e); },
      });
      this.worker.ref();
      this.worker.postMessage({ id, method, args } satisfies Request, transfer);
    });
  }

  private onReply(m: Reply): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if ('chunk' in m) { p.onChunk?.(m.chunk); return; }
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker.unref();
    if ('error' in m) {
      const e = new Error(m.error.message);
      e.name = m.error.name;
      if (m.error.stack) e.stack = m.error.stack;
      p.reject(e);
    } else {
      p.resolve(m.result);
    }
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
