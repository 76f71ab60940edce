// `gmai bench serve [--clients 1,8,32] [--requests N] [--max-tokens T] [--json FILE]`: the
// OpenAI-compatible server on the tiny model under C concurrent streaming clients (each sends
// requests one after another), against the same requests through the in-process API
// (startModelServer().complete, no HTTP), in the same run. Reports requests/s and time to first
// token (p50, p99) for each, and the server process's event-loop delay p99 under load (the
// server runs in a child process so the clients' own work is not counted; target < 20 ms).
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTinyModel } from '../demo/tiny-model.js';
import { startModelServer } from '../infer/server.js';
import { numberOption, parseCommand, stringOption, type CommandSpec } from '../cli/command.js';
import { writeFileAtomic } from '../io/atomic.js';
import { runtimeInfo } from '../runtime.js';

export const serveBenchCommand: CommandSpec = {
  name: 'bench serve',
  summary: 'Requests/s and time to first token of the OpenAI-compatible server on the tiny model, against the in-process API, and the server\'s event-loop delay under load.',
  options: {
    clients: { type: 'string', value: 'LIST', description: 'concurrent streaming clients per round (default 1,8,32)' },
    requests: { type: 'string', value: 'N', description: 'requests per round (default 64)' },
    'max-tokens': { type: 'string', value: 'T', description: 'tokens per completion (default 32)' },
    json: { type: 'string', value: 'FILE', description: 'also write the results as JSON' },
  },
};

interface Round { clients: number; requests: number; seconds: number; ttftMs: number[]; tokens: number }

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};

const messages = (i: number) => [{ role: 'user' as const, content: `Request ${i}: describe a normal chest radiograph.` }];

/** Runs `requests` calls of `one(i)` with `clients` in flight; one() returns [ttft ms, tokens]. */
async function round(clients: number, requests: number, one: (i: number) => Promise<[number, number]>): Promise<Round> {
  const ttftMs: number[] = [];
  let next = 0, tokens = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < requests) {
      const [ttft, n] = await one(next++);
      ttftMs.push(ttft);
      tokens += n;
    }
  }));
  return { clients, requests, seconds: (performance.now() - t0) / 1000, ttftMs, tokens };
}

/** One streamed request over HTTP: time to the first SSE event (sent with the first token). */
async function httpRequest(url: string, i: number, maxTokens: number): Promise<[number, number]> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny', messages: messages(i), max_tokens: maxTokens, temperature: 1, seed: i, stream: true, stream_options: { include_usage: true } }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttft = 0, text = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    if (!ttft) ttft = performance.now() - t0;
    text += decoder.decode(chunk as Uint8Array, { stream: true });
  }
  const usage = /"completion_tokens":(\d+)/.exec(text);
  return [ttft, usage ? Number(usage[1]) : 0];
}

export async function run(argv: string[]): Promise<number> {
  const v = parseCommand(serveBenchCommand, argv);
  if (!v) return 0;
  const clientCounts = (stringOption(v, 'clients') ?? '1,8,32').split(',').map(Number);
  if (clientCounts.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`--clients must be positive integers, got '${stringOption(v, 'clients')}'`);
  const requests = numberOption(v, 'requests', 64, { integer: true, min: 1 });
  const maxTokens = numberOption(v, 'max-tokens', 32, { integer: true, min: 1 });
  const say = (s: string) => process.stderr.write(`${s}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'gmai-bench-serve-'));
  const modelDir = await writeTinyModel(join(dir, 'model'), { seed: 1 });
  const child = fork(fileURLToPath(new URL('./serve-child.js', import.meta.url)), [modelDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = <T>(msg: string) => new Promise<T>((ok) => { child.once('message', (m) => ok(m as T)); if (msg) child.send(msg); });
  const inProcess = await startModelServer(modelDir);
  const rows: Record<string, unknown>[] = [];
  try {
    const { url } = await ask<{ url: string }>('');
    // Warm-up: both paths once.
    await httpRequest(url, 0, 4);
    await inProcessRequest(0, 4);
    for (const clients of clientCounts) {
      await ask('reset');
      const http = await round(clients, requests, (i) => httpRequest(url, i, maxTokens));
      const loop = await ask<{ p50: number; p99: number; max: number }>('report');
      const api = await round(clients, requests, (i) => inProcessRequest(i, maxTokens));
      for (const [path, r] of [['HTTP (openai format, SSE)', http], ['in-process API', api]] as const) {
        rows.push({
          path, clients, requests: r.requests, requestsPerS: r.requests / r.seconds, tokensPerS: r.tokens / r.seconds,
          ttftP50Ms: percentile(r.ttftMs, 50), ttftP99Ms: percentile(r.ttftMs, 99),
          ...(path.startsWith('HTTP') ? { serverLoopDelayP99Ms: loop.p99, serverLoopDelayMaxMs: loop.max } : {}),
        });
      }
      say(`clients ${clients}: done`);
    }
  } finally {
    child.send('stop');
    await inProcess.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const f = (x: unknown, d = 1) => (typeof x === 'number' ? x.toFixed(d) : '');
  const lines = [
    `tiny model, ${requests} requests per round, ${maxTokens} tokens each, temperature 1; ${runtimeInfo().cpuIsa}, ${runtimeInfo().threads} threads`,
    '| path | clients | req/s | tok/s | TTFT p50 ms | TTFT p99 ms | server loop delay p99 ms (max) |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.path} | ${r.clients} | ${f(r.requestsPerS)} | ${f(r.tokensPerS, 0)} | ${f(r.ttftP50Ms)} | ${f(r.ttftP99Ms)} | ${r.serverLoopDelayP99Ms === undefined ? '' : `${f(r.serverLoopDelayP99Ms)} (${f(r.serverLoopDelayMaxMs)})`} |`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  const json = stringOption(v, 'json');
  if (json) await writeFileAtomic(json, JSON.stringify({ requests, maxTokens, rows }, null, 2) + '\n');
  return 0;

  async function inProcessRequest(i: number, max: number): Promise<[number, number]> {
    const t0 = performance.now();
    let ttft = 0;
    const it = inProcess.complete(messages(i), { maxNewTokens: max, temperature: 1, seed: i });
    let r = await it.next();
    while (!r.done) { if (!ttft) ttft = performance.now() - t0; r = await it.next(); }
    return [ttft, r.value.sequences[0].tokens.length];
  }
}
