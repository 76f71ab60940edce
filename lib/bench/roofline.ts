// Reusable pieces for benchmarks: machine probes (FMA peak, memory bandwidth), timing with
// warm-up and median, roofline percentages, table printing, atomic JSON output and running
// a Python peer script in a subprocess.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { native } from '../native.js';

export interface Machine {
  /** Measured fp32 FMA throughput of all pool threads, GFLOP/s. */
  peakGflops: number;
  /** Measured streaming read bandwidth of all pool threads, GB/s. */
  bandwidthGBps: number;
  isa: string;
  threads: number;
}


/**
 * Measures this machine's roofline. Synchronous: occupies every pool thread for about a
 * second (benchmark use only). `bandwidthMB` should be far larger than the last-level cache.
 */
export function measureMachine(opts: { bandwidthMB?: number; reps?: number } = {}): Machine {
  const p = native();
  const peak = p.probeFmaPeak(20_000_000, opts.reps ?? 5);
  const bw = p.probeReadBandwidth(opts.bandwidthMB ?? 512, opts.reps ?? 5);
  return { peakGflops: peak.value, bandwidthGBps: bw.value, isa: peak.isa, threads: p.runtimeInfo().threads };
}

/** Streaming read bandwidth of all pool threads now, GB/s (best of `reps` passes). */
export function measureBandwidth(opts: { megabytes?: number; reps?: number } = {}): number {
  return native().probeReadBandwidth(opts.megabytes ?? 512, opts.reps ?? 3).value;
}

/** The middle value (upper middle for an even count). */
export const median = (x: readonly number[]): number => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)];

export interface BandwidthShare { ms: number; gbps: number; probeGBps: number; pctBandwidth: number }

/**
 * A bandwidth-bound `fn` (moving `bytes` per call) timed in alternation with the read probe,
 * so each pair sees the same load on this shared machine: medians of the call time, of the
 * probe, and of the per-pair ratio (the figure to quote).
 */
export function bandwidthShare(fn: () => void, bytes: number, pairs = 15): BandwidthShare {
  fn();
  const ms: number[] = [], probe: number[] = [], ratio: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const bw = measureBandwidth({ megabytes: 256, reps: 1 });
    const t0 = process.hrtime.bigint();
    fn();
    const t = Number(process.hrtime.bigint() - t0) / 1e6;
    ms.push(t);
    probe.push(bw);
    ratio.push(bytes / t / 1e6 / bw);
  }
  const m = median(ms);
  return { ms: m, gbps: bytes / m / 1e6, probeGBps: median(probe), pctBandwidth: 100 * median(ratio) };
}

export interface Timing { medianMs: number; minMs: number; reps: number }

/** The better of two measurements (e.g. before and after a benchmark, on a shared machine). */
export function bestMachine(a: Machine, b: Machine): Machine {
  return { ...a, peakGflops: Math.max(a.peakGflops, b.peakGflops), bandwidthGBps: Math.max(a.bandwidthGBps, b.bandwidthGBps) };
}

/** Median wall time of `fn` after `warmup` calls; reps fit in about `budgetMs` (3..maxReps). */
export function timeMs(fn: () => void, opts: { warmup?: number; budgetMs?: number; maxReps?: number } = {}): Timing {
  for (let i = 0; i < (opts.warmup ?? 2); i++) fn();
  const once = () => {
    const t0 = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const first = once();
  const reps = Math.max(3, Math.min(opts.maxReps ?? 20, Math.ceil((opts.budgetMs ?? 1000) / Math.max(first, 1e-3))));
  const samples = [first];
  for (let i = 1; i < reps; i++) samples.push(once());
  samples.sort((a, b) => a - b);
  return { medianMs: samples[Math.floor(samples.length / 2)], minMs: samples[0], reps };
}

export interface Roofline { gflops: number; gbps: number; pctPeak: number; pctBandwidth: number }

/** Throughput of a run that did `flops` and moved `bytes` in `ms`, and its share of the machine. */
export function roofline(ms: number, flops: number, bytes: number, m: Machine): Roofline {
  const gflops = flops / ms / 1e6, gbps = bytes / ms / 1e6;
  return { gflops, gbps, pctPeak: (100 * gflops) / m.peakGflops, pctBandwidth: (100 * gbps) / m.bandwidthGBps };
}

/** Fixed-width text table; numbers are printed as given (format them first). */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n') + '\n';
}

/** Writes JSON so a reader never sees a partial file (lib/io/atomic: temp file, fsync, rename). */
export async function writeJsonAtomic(file: string, data: unknown): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  await writeFileAtomic(file, JSON.stringify(data, null, 2) + '\n');
}

export interface PeerRun<T> { ok: true; data: T }
export interface PeerFailure { ok: false; reason: string }

/**
 * Runs `python script args...` with the given extra environment (and variables to unset),
 * relaying its stderr as progress, and parses the last stdout line as JSON. Never throws:
 * a missing interpreter or a failing script gives { ok: false, reason }.
 */
export function runPythonPeer<T>(
  script: string,
  args: string[],
  opts: { python?: string; env?: Record<string, string>; unset?: string[]; timeoutMs?: number } = {},
): Promise<PeerRun<T> | PeerFailure> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  for (const k of opts.unset ?? []) delete env[k];
  const python = opts.python ?? '/usr/bin/python3';
  return new Promise((resolve) => {
    let out = '', errLine = '';
    const child = spawn(python, [script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {  // relay whole lines as progress
      const lines = (errLine + d.toString()).split('\n');
      errLine = lines.pop() ?? '';
      for (const l of lines) process.stderr.write(`  [peer] ${l}\n`);
    });
    child.on('error', (e) => { clearTimeout(timer); resolve({ ok: false, reason: `${python}: ${e.message}` }); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return resolve({ ok: false, reason: `${script} exited with ${signal ?? code}` });
      try {
        const last = out.trim().split('\n').pop() ?? '';
        resolve({ ok: true, data: JSON.parse(last) as T });
      } catch (e) {
        resolve({ ok: false, reason: `${script}: unreadable output (${(e as Error).message})` });
      }
    });
  });
}

/** A Python peer that stays running: one JSON line out for each line sent (see startPythonPeer). */
export interface PythonPeerProcess {
  /** What the peer printed once ready (its first JSON line). */
  ready: Record<string, unknown>;
  /** Sends one command line; resolves with the peer's next JSON line. */
  request<T>(line: string): Promise<T>;
  close(): void;
}

/**
 * Starts `python script args...` for a conversation (benchmarks whose rounds alternate with the
 * peer's, so both see the same machine load): resolves once the peer prints its first JSON line
 * ({ ready... }), or gives { ok: false, reason } when it cannot start. Stderr is relayed as progress.
 */
export function startPythonPeer(
  script: string,
  args: string[],
  opts: { python?: string; env?: Record<string, string>; unset?: string[]; timeoutMs?: number } = {},
): Promise<PeerRun<PythonPeerProcess> | PeerFailure> {
  const python = opts.python ?? '/usr/bin/python3';
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  for (const k of opts.unset ?? []) delete env[k];
  const child = spawn(python, [script, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const waiting: { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }[] = [];
  let out = '', errLine = '', ended: string | undefined;
  const fail = (why: string) => {
    ended ??= why;
    for (const w of waiting.splice(0)) w.reject(new Error(ended));
  };
  child.stdout.on('data', (d: Buffer) => {
    const lines = (out + d.toString()).split('\n');
    out = lines.pop() ?? '';
    for (const l of lines) {
      if (!l.trim()) continue;
      const w = waiting.shift();
      try {
        w?.resolve(JSON.parse(l) as Record<string, unknown>);
      } catch (e) {
        w?.reject(new Error(`${script}: unreadable output (${(e as Error).message})`));
      }
    }
  });
  child.stderr.on('data', (d: Buffer) => {
    const lines = (errLine + d.toString()).split('\n');
    errLine = lines.pop() ?? '';
    for (const l of lines) process.stderr.write(`  [peer] ${l}\n`);
  });
  child.on('error', (e) => fail(`${python}: ${e.message}`));
  child.on('close', (code, signal) => fail(`${script} exited with ${signal ?? code}`));
  const next = (timeoutMs: number) => new Promise<Record<string, unknown>>((resolve, reject) => {
    if (ended) return reject(new Error(ended));
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${script}: no answer in ${timeoutMs / 1000} s`)); }, timeoutMs);
    waiting.push({ resolve: (v) => { clearTimeout(timer); resolve(v); }, reject: (e) => { clearTimeout(timer); reject(e); } });
  });
  const timeoutMs = opts.timeoutMs ?? 300_000;
  return next(timeoutMs).then(
    (ready): PeerRun<PythonPeerProcess> | PeerFailure => {
      if (typeof ready.error === 'string') { child.kill(); return { ok: false, reason: ready.error }; }
      return {
        ok: true,
        data: {
          ready,
          request: <T>(line: string) => { const r = next(timeoutMs); child.stdin.write(line + '\n'); return r as Promise<T>; },
          close: () => { child.stdin.end(); },
        },
      };
    },
    (e: Error) => ({ ok: false, reason: e.message }),
  );
}
