// `serveModel(options)`: an HTTP server with OpenAI's chat-completions interface over a model in
// a worker thread (lib/infer/server.ts), so any OpenAI client can use it. This thread only parses
// requests and relays tokens; the worker decodes concurrent requests together. Routes:
//   POST /v1/chat/completions   (stream as server-sent events, n, logprobs, …; see docs/serving.md)
//   GET  /v1/models
//   GET  /health
// Extensions to OpenAI's format: `token_id` in each logprobs entry (GRPO rollouts need the
// sampled ids), and `parsed_answer` (the multiple-choice answer of the R1 format) on each choice.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { basename, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { parseAnswer } from '../infer/answer.js';
import { startModelServer, type CompletionEvent, type ModelServer, type ServerOptions } from '../infer/server.js';
import type { ChatMessage, ContentPart } from '../processing/chat-template.js';
import { ApiError } from './errors.js';
import { parseChatRequest, type ChatRequest, type RequestLimits } from './chat-request.js';
import { resolveImageUrl } from './images.js';

export interface ServeOptions {
  /** Model folder (loaded into a worker), unless `modelServer` is given. */
  model?: string;
  /** An already started model server to use (it is not closed by `close()`). */
  modelServer?: ModelServer;
  /** Options of the worker started for `model`. */
  worker?: ServerOptions;
  /** The model id clients name in requests and /v1/models lists (default: the folder's name). */
  modelName?: string;
  /** Default 127.0.0.1 (this machine only); '0.0.0.0' serves the network. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** When set, /v1/* requests need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Directory from which image_url parts may name local files (paths or file:// URLs). */
  allowedImageDir?: string;
  /** Largest request body in bytes (default 32 MiB); larger ones get a 413. */
  maxBodyBytes?: number;
  /** Largest `n` (default 16) and `max_tokens` (default 4096, also the default when absent). */
  limits?: Partial<RequestLimits>;
}

export interface ServeStats {
  /** Completions running now. */
  active: number;
  completed: number;
  /** Ended early because the client went away. */
  aborted: number;
}

export interface ModelHttpServer {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  readonly modelName: string;
  readonly stats: ServeStats;
  readonly http: Server;
  close(): Promise<void>;
}

interface Context {
  model: ModelServer;
  modelName: string;
  created: number;
  options: ServeOptions;
  limits: RequestLimits;
  stats: ServeStats;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
};

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > max) throw new ApiError(`the request body (${declared} bytes) exceeds the limit of ${max} bytes`, null, 413, 'request_too_large');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > max) throw new ApiError(`the request body exceeds the limit of ${max} bytes`, null, 413, 'request_too_large');
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

function authorized(req: IncomingMessage, apiKey: string | undefined): boolean {
  if (!apiKey) return true;
  const given = Buffer.from(/^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
  const want = Buffer.from(apiKey);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** The request's messages with each image_url part resolved to its bytes. */
async function toChatMessages(r: ChatRequest, allowedDir: string | undefined): Promise<ChatMessage[]> {
  return Promise.all(r.messages.map(async (m) => {
    if (typeof m.content === 'string') return { role: m.role, content: m.content };
    const parts: ContentPart[] = await Promise.all(m.content.map(async (p): Promise<ContentPart> =>
      p.type === 'text' ? p : { type: 'image', image: await resolveImageUrl(p.url, p.param, allowedDir) }));
    return { role: m.role, content: parts };
  }));
}

type LogprobEntry = { token: string; logprob: number; bytes: number[]; token_id: number };

function logprobEntry(e: CompletionEvent, top: boolean): LogprobEntry & { top_logprobs: LogprobEntry[] } {
  return {
    token: e.token ?? '', logprob: e.logprob, bytes: e.bytes ?? [], token_id: e.tokenId,
    top_logprobs: top ? (e.topLogprobs ?? []).map((t) => ({ token: t.token ?? '', logprob: t.logprob, bytes: t.bytes ?? [], token_id: t.tokenId })) : [],
  };
}

function parsedAnswer(text: string) {
  const p = parseAnswer(text);
  return { letter: p.letter, answer: p.answer, reasoning: p.reasoning, format_ok: p.formatOk };
}

async function chatCompletions(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await readBody(req, ctx.options.maxBodyBytes ?? 32 << 20);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new ApiError(`the request body is not valid JSON: ${(e as Error).message}`);
  }
  const r = parseChatRequest(body, ctx.limits);
  if (r.model !== ctx.modelName) throw new ApiError(`The model '${r.model}' does not exist; this server serves '${ctx.modelName}'`, 'model', 404, 'model_not_found');
  const messages = await toChatMessages(r, ctx.options.allowedImageDir);

  // A client that goes away aborts its generation (the worker frees its sequences).
  const abort = new AbortController();
  res.on('close', () => { if (!res.writableFinished) abort.abort(new Error('client disconnected')); });
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const head = { id, created, model: ctx.modelName, system_fingerprint: null };
  const it = ctx.model.complete(messages, {
    maxNewTokens: r.maxTokens, temperature: r.temperature, topP: r.topP, seed: r.seed,
    presencePenalty: r.presencePenalty, frequencyPenalty: r.frequencyPenalty,
    stopStrings: r.stop, numReturnSequences: r.n, topLogprobs: r.topLogprobs,
    tokenTexts: r.logprobs, upscaleSmallImages: true, signal: abort.signal,
  });
  ctx.stats.active++;
  try {
    const texts = Array.from({ length: r.n }, () => '');
    const logprobs: ReturnType<typeof logprobEntry>[][] = Array.from({ length: r.n }, () => []);
    const send = (chunk: unknown) => res.write(`data: ${JSON.stringify({ ...head, object: 'chat.completion.chunk', ...(chunk as object) })}\n\n`);
    let result = await it.next();
    if (r.stream) {
      // Headers go out once the prompt is processed, so a bad image is still a 400.
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      send({ choices: texts.map((_, index) => ({ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null })) });
    }
    while (!result.done) {
      const e = result.value;
      texts[e.index] += e.text;
      const entry = r.logprobs ? logprobEntry(e, r.topLogprobs > 0) : undefined;
      if (!r.stream) { if (entry) logprobs[e.index].push(entry); } else if (e.text || entry || e.finishReason) {
        send({ choices: [{
          index: e.index,
          delta: e.text ? { content: e.text } : {},
          logprobs: entry ? { content: [entry] } : null,
          finish_reason: e.finishReason ?? null,
          ...(e.finishReason ? { parsed_answer: parsedAnswer(texts[e.index]) } : {}),
        }] });
      }
      result = await it.next();
    }
    const { sequences, promptTokens } = result.value;
    const completionTokens = sequences.reduce((n, s) => n + s.tokens.length, 0);
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    if (r.stream) {
      if (r.includeUsage) send({ choices: [], usage });
      res.end('data: [DONE]\n\n');
    } else {
      json(res, 200, {
        ...head, object: 'chat.completion',
        choices: sequences.map((s, index) => ({
          index,
          message: { role: 'assistant', content: s.text, refusal: null },
          logprobs: r.logprobs ? { content: logprobs[index], refusal: null } : null,
          finish_reason: s.finishReason,
          parsed_answer: parsedAnswer(s.text),
        })),
        usage,
      });
    }
    ctx.stats.completed++;
  } catch (e) {
    if (abort.signal.aborted) { ctx.stats.aborted++; return; }
    if (res.headersSent) { res.end(`data: ${JSON.stringify(errorBody(e))}\n\n`); return; }
    throw e;
  } finally {
    ctx.stats.active--;
  }
}

/** A worker-side failure in a request's own input (its image) is the client's error. */
function errorBody(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const message = (e as Error)?.message ?? String(e);
  if (/^image \d+:/.test(message)) return new ApiError(message, 'messages');
  return new ApiError(message, null, 500);
}

async function handle(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  const routes: Record<string, Record<string, () => Promise<void> | void>> = {
    '/health': { GET: () => json(res, 200, { status: 'ok', model: ctx.modelName, ...ctx.stats }) },
    '/v1/models': { GET: () => json(res, 200, { object: 'list', data: [{ id: ctx.modelName, object: 'model', created: ctx.created, owned_by: 'gmai-vl-r1' }] }) },
    '/v1/chat/completions': { POST: () => chatCompletions(ctx, req, res) },
  };
  try {
    const route = routes[path];
    if (!route) throw new ApiError(`no route ${req.method} ${path}`, null, 404, 'not_found');
    if (path.startsWith('/v1/') && !authorized(req, ctx.options.apiKey)) throw new ApiError('invalid or missing API key (Authorization: Bearer …)', null, 401, 'invalid_api_key');
    const handler = route[req.method ?? ''];
    if (!handler) throw new ApiError(`${path} accepts ${Object.keys(route).join(', ')}, not ${req.method}`, null, 405, 'method_not_allowed');
    await handler();
  } catch (e) {
    const err = errorBody(e);
    if (res.headersSent) { res.destroy(); return; }
    // After a 413 the rest of the body is not read: the connection closes.
    if (err.status === 413) res.setHeader('connection', 'close');
    json(res, err.status, err.toJSON());
  }
}

/** Starts the server; resolves once it listens. */
export async function serveModel(options: ServeOptions): Promise<ModelHttpServer> {
  if (!options.model && !options.modelServer) throw new TypeError("serveModel: give 'model' (a model folder) or 'modelServer'");
  const owned = !options.modelServer;
  const model = options.modelServer ?? await startModelServer(options.model!, options.worker);
  const ctx: Context = {
    model, options,
    modelName: options.modelName ?? basename(resolve(options.model ?? 'model')),
    created: Math.floor(Date.now() / 1000),
    limits: { maxN: options.limits?.maxN ?? 16, maxTokens: options.limits?.maxTokens ?? 4096 },
    stats: { active: 0, completed: 0, aborted: 0 },
  };
  const http = createServer((req, res) => { void handle(ctx, req, res); });
  try {
    await new Promise<void>((ok, fail) => {
      http.once('error', fail);
      http.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => { http.off('error', fail); ok(); });
    });
  } catch (e) {
    if (owned) await model.close();
    throw e;
  }
  const addr = http.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`, port: addr.port, modelName: ctx.modelName, stats: ctx.stats, http,
    async close() {
      await new Promise<void>((ok) => { http.close(() => ok()); http.closeAllConnections(); });
      if (owned) await model.close();
    },
  };
}
