// `gmai bench loss [--rows N] [--vocab V] [--hidden H] [--dtype bfloat16|float32] [--chunk ROWS]
// [--dlmhead] [--json FILE]`: the fused, chunked token log-prob stage (the cross-entropy of SFT
// and the log-probs of GRPO) at Qwen2.5-1.5B's lm_head (V 151,936, H 1,536) for 8 × 1,024 tokens:
// peak memory above the weights for forward + backward (full fp32 logits would take N·V·4 bytes),
// and time against the same GEMM work at the machine's measured fp32 peak (lib/bench/roofline.ts).
// Peak memory is the process's peak resident set (VmHWM), reset just before the stage through
// /proc/self/clear_refs, minus the resident set at that moment (weights and inputs in place).
import { readFileSync, writeFileSync } from 'node:fs';
import { tokenLogprobs, tokenLogprobsBackward } from '../ops/loss.js';
import { Tensor } from '../tensor.js';
import { formatTable, measureMachine, writeJsonAtomic } from './roofline.js';

const MB = 1024 * 1024;

/** Resident set and its peak (bytes) from /proc/self/status; the peak since the last reset. */
export function residentBytes(): { rss: number; peak: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Resets VmHWM to the current resident set (Linux); false when the kernel refuses. */
export function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Random weights [V, H] in `dtype`, written in place (no float32 staging copy for bf16). */
function randomWeights(V: number, H: number, dtype: 'bfloat16' | 'float32'): Tensor<'bfloat16' | 'float32'> {
  const n = V * H, scale = 1 / Math.sqrt(H);
  if (dtype === 'float32') {
    const w = new Float32Array(n);
    for (let i = 0; i < n; i++) w[i] = (Math.random() * 2 - 1) * scale;
    return Tensor.from<'float32'>(w, [V, H], { copy: false });
  }
  const bits = new Uint16Array(n), f = new Float32Array(1), u = new Uint32Array(f.buffer);
  for (let i = 0; i < n; i++) {
    f[0] = (Math.random() * 2 - 1) * scale;
    bits[i] = u[0] >>> 16;  // truncation is fine for random data
  }
  return Tensor.from<'bfloat16'>(bits, [V, H], { dtype: 'bfloat16', copy: false });
}

/** A zeroed float32 [rows, cols] tensor written block by block (no large JS array left for the GC). */
function zerosInPlace(rows: number, cols: number): Tensor<'float32'> {
  const t = Tensor.empty([rows, cols]);
  const block = Math.max(1, Math.floor((4 * MB) / cols));
  const zeros = new Float32Array(block * cols);
  for (let r = 0; r < rows; r += block) {
    const n = Math.min(block, rows - r);
    using v = t.view([n, cols], r * cols);
    v.write(n === block ? zeros : zeros.subarray(0, n * cols));
  }
  return t;
}

export interface LossBenchResult {
  rows: number; vocab: number; hidden: number; dtype: string; chunkRows: number; dLmHead: boolean; threads: number; isa: string;
  weightsMB: number; fullLogitsMB: number;
  peakExtraMB: number; peakMeasured: 'VmHWM reset' | 'VmHWM (not reset)';
  forwardMs: number; backwardMs: number;
  gflopForward: number; gflopBackward: number;
  peakGflops: number;
  /** The same GEMM flops at the measured fp32 peak. */
  rooflineMs: number;
  pctPeak: number;
}

export async function run(argv: string[]): Promise<number> {
  let rows = 8 * 1024, vocab = 151_936, hidden = 1536, chunk = 0, dLmHead = false;
  let dtype: 'bfloat16' | 'float32' = 'bfloat16';
  let jsonFile: string | undefined;
  const usage = 'usage: gmai bench loss [--rows N] [--vocab V] [--hidden H] [--dtype bfloat16|float32] [--chunk ROWS] [--dlmhead] [--json FILE]\n';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    const whole = () => { const n = Number(v); i++; if (!Number.isInteger(n) || n < 1) throw new RangeError(`${a} needs a whole number >= 1`); return n; };
    try {
      if (a === '--rows') rows = whole();
      else if (a === '--vocab') vocab = whole();
      else if (a === '--hidden') hidden = whole();
      else if (a === '--chunk') chunk = whole();
      else if (a === '--dlmhead') dLmHead = true;
      else if (a === '--dtype' && (v === 'bfloat16' || v === 'float32')) { dtype = v; i++; }
      else if (a === '--json' && v) { jsonFile = v; i++; }
      else { process.stderr.write(usage); return 2; }
    } catch (e) {
      process.stderr.write(`${(e as Error).message}\n${usage}`);
      return 2;
    }
  }
  process.stderr.write('measuring FMA peak...\n');
  const machine = measureMachine({ bandwidthMB: 64, reps: 3 });

  process.stderr.write(`allocating lm_head [${vocab}, ${hidden}] ${dtype}, hidden [${rows}, ${hidden}]...\n`);
  const W = randomWeights(vocab, hidden, dtype);
  const x = new Float32Array(rows * hidden);
  for (let i = 0; i < x.length; i++) x[i] = Math.random() * 2 - 1;
  const hiddenT = Tensor.from<'float32'>(x, [rows, hidden], { copy: false });
  const targets = Tensor.from<'int32'>(Int32Array.from({ length: rows }, () => Math.floor(Math.random() * vocab)), [rows]);
  const dlogp = Tensor.from<'float32'>(new Float32Array(rows).fill(-1 / rows), [rows]);  // mean cross-entropy
  const dW = dLmHead ? zerosInPlace(vocab, hidden) : undefined;  // the gradient's own storage, not the stage's

  const reset = resetPeak();
  const before = residentBytes();
  process.stderr.write(`forward (${rows} rows)...`);
  let t0 = performance.now();
  const fwd = tokenLogprobs(hiddenT, W, targets, { chunkRows: chunk });
  const forwardMs = performance.now() - t0;
  process.stderr.write(` ${(forwardMs / 1000).toFixed(1)} s\nbackward...`);
  t0 = performance.now();
  const dx = tokenLogprobsBackward(hiddenT, W, targets, fwd.lse, dlogp, { chunkRows: chunk, dLmHead: dW });
  const backwardMs = performance.now() - t0;
  process.stderr.write(` ${(backwardMs / 1000).toFixed(1)} s\n`);
  const after = residentBytes();
  const loss = -fwd.logp.toArray().reduce((a, b) => a + b, 0) / rows;

  const nvh = 2 * rows * vocab * hidden;
  const flopsForward = nvh, flopsBackward = nvh * (dLmHead ? 3 : 2);  // recompute, dhidden (, dLmHead)
  const rooflineMs = (flopsForward + flopsBackward) / (machine.peakGflops * 1e6);
  const effectiveChunk = chunk || Math.max(1, Math.floor((8 * MB) / vocab));
  const result: LossBenchResult = {
    rows, vocab, hidden, dtype, chunkRows: Math.min(effectiveChunk, rows), dLmHead, threads: machine.threads, isa: machine.isa,
    weightsMB: (vocab * hidden * (dtype === 'float32' ? 4 : 2)) / MB,
    fullLogitsMB: (rows * vocab * 4) / MB,
    peakExtraMB: (after.peak - before.rss) / MB,
    peakMeasured: reset ? 'VmHWM reset' : 'VmHWM (not reset)',
    forwardMs, backwardMs,
    gflopForward: flopsForward / 1e9, gflopBackward: flopsBackward / 1e9,
    peakGflops: machine.peakGflops,
    rooflineMs,
    pctPeak: (100 * rooflineMs) / (forwardMs + backwardMs),
  };
  const f = (v: number, d = 1) => v.toFixed(d);
  process.stdout.write(`\nfused chunked token log-probs (cross-entropy) forward + backward, ${machine.threads} threads, ${machine.isa}, ` +
    `fp32 peak ${f(machine.peakGflops)} GFLOP/s; mean CE ${f(loss, 3)}\n\n`);
  process.stdout.write(formatTable(
    ['rows', 'vocab', 'hidden', 'lm_head', 'chunk', 'weights MB', 'full logits MB', 'peak extra MB', 'fwd s', 'bwd s', 'GEMM-at-peak s', '% peak'],
    [[rows, vocab, hidden, dtype + (dLmHead ? ' +dLmHead' : ''), result.chunkRows, f(result.weightsMB, 0), f(result.fullLogitsMB, 0),
      f(result.peakExtraMB, 0), f(forwardMs / 1000, 2), f(backwardMs / 1000, 2), f(rooflineMs / 1000, 2), f(result.pctPeak)]],
  ));
  if (!reset) process.stdout.write('note: /proc/self/clear_refs was not writable; the peak includes anything resident earlier\n');
  if (jsonFile) {
    await writeJsonAtomic(jsonFile, result);
    process.stderr.write(`wrote ${jsonFile}\n`);
  }
  for (const t of [W, hiddenT, targets, dlogp, dW, dx]) t?.dispose();
  fwd[Symbol.dispose]();
  return 0;
}
