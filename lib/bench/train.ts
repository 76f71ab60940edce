// `gmai bench train [--rounds N] [--steps K] [--no-peer] [--skip-vl] [--json FILE]`: tokens/s of
// one full SFT training step (forward, backward, AdamW with gradient clipping), float32:
//  - a small Qwen2-style decoder (hidden 256, 4 layers, 4 heads, 2 KV heads, intermediate 688,
//    vocab 4096, tied embeddings), batch 8 × 256 tokens of text, the loss on the last 128 tokens
//    of each sequence; ours against PyTorch (bench/peers/train_peer.py: the same decoder in
//    torch, same thread count) in the same run, rounds alternating ours / torch so both see the
//    same load on a shared machine;
//  - the demo-sized tiny Qwen2.5-VL (lib/demo/tiny-model.ts) on 8 examples with an image each
//    (ours only: the peer has no vision tower).
// Model FLOPs utilisation = model FLOPs of a step over the measured fp32 FMA peak (roofline.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRandomModel } from '../demo/random-model.js';
import { writeTinyModel } from '../demo/tiny-model.js';
import { loadModel, type Model } from '../model/model.js';
import { packageRoot } from '../native.js';
import { AdamW } from '../train/optim.js';
import { GradBuffers, trainablePredicate } from '../train/params.js';
import { sftBackward, type SftExample } from '../train/sft.js';
import type { Qwen2Shape } from './gguf-qwen2.js';
import { qwenVlConfig, TINY_VISION } from './qwen-text.js';
import { bestMachine, formatTable, measureMachine, median, startPythonPeer, writeJsonAtomic, type Machine, type PythonPeerProcess } from './roofline.js';
import { visionTowerFlops, type VisionTowerShape } from './vision-flops.js';

/** The decoder the issue names; ids of the special tokens moved inside its 4096-token vocabulary. */
export const TRAIN_SHAPE: Qwen2Shape = { hidden: 256, layers: 4, heads: 4, kvHeads: 2, intermediate: 688, vocab: 4096, tied: true, ropeTheta: 1e6, rmsEps: 1e-6 };
const SMALL_IDS = { bos_token_id: 4089, eos_token_id: 4090, vision_start_token_id: 4091, vision_end_token_id: 4092, vision_token_id: 4093, image_token_id: 4094, video_token_id: 4095 };

export interface StepTimes { forwardMs: number; backwardMs: number; optimizerMs: number; loss: number }

/** Matrix FLOPs of one training step (forward + backward = 3 × forward) of the text decoder. */
export function decoderStepFlops(s: Qwen2Shape, seqLens: readonly number[], completionTokens: number): number {
  const kv = (s.hidden / s.heads) * s.kvHeads;
  const layerParams = s.layers * (2 * s.hidden * s.hidden + 2 * kv * s.hidden + 3 * s.hidden * s.intermediate);
  const tokens = seqLens.reduce((a, b) => a + b, 0);
  // causal attention: QKᵀ and P·V, 2 FLOPs × hidden each per query·key pair, S(S+1)/2 pairs
  const pairs = seqLens.reduce((a, n) => a + (n * (n + 1)) / 2, 0);
  const attention = 4 * s.hidden * s.layers * pairs;
  return 3 * (2 * layerParams * tokens + 2 * s.vocab * s.hidden * completionTokens + attention);
}

/** One optimiser step of ours: forward + backward of the whole batch, then AdamW. */
function oursStep(model: Model, batch: readonly SftExample[], grads: GradBuffers, opt: AdamW, isTrainable: (name: string) => boolean): StepTimes {
  const completion = batch.reduce((a, e) => a + e.completionIds.length, 0);
  const r = sftBackward(model, batch, grads, { isTrainable, lossScale: 1 / completion });
  const t0 = performance.now();
  opt.step(grads.tensors, { lr: 1e-5, loss: r.lossSum / completion });
  grads.clear();
  return { forwardMs: r.forwardMs, backwardMs: r.backwardMs, optimizerMs: performance.now() - t0, loss: r.lossSum / completion };
}

/** Seeded ordinary token ids in [lo, hi). */
function ids(n: number, lo: number, hi: number, seed: number): number[] {
  let x = seed >>> 0;
  return Array.from({ length: n }, () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return lo + (x % (hi - lo)); });
}

/** A float32 model with its optimiser and one fixed batch: step() runs one timed training step. */
interface Trainer { model: Model; batch: SftExample[]; step(): StepTimes; dispose(): void }

async function trainer(dir: string, makeBatch: (m: Model) => SftExample[]): Promise<Trainer> {
  const model = await loadModel(dir, { dtype: 'float32' });
  const batch = makeBatch(model);
  const isTrainable = trainablePredicate(model.weights, 'default');
  const opt = AdamW.forModel(model.parameters().filter(([name]) => isTrainable(name)), { weightDecay: 0.01, maxGradNorm: 1 });
  const grads = new GradBuffers(model.weights);
  return {
    model, batch,
    step: () => oursStep(model, batch, grads, opt, isTrainable),
    dispose: () => { grads.dispose(); opt.dispose(); model.dispose(); },
  };
}

const total = (t: StepTimes) => t.forwardMs + t.backwardMs + t.optimizerMs;

interface Summary { tokensPerS: number; stepMs: number; forwardMs: number; backwardMs: number; optimizerMs: number; steps: number; minStepMs: number; maxStepMs: number }

function summarise(steps: StepTimes[], tokens: number): Summary {
  const ms = steps.map(total);
  const stepMs = median(ms);
  return {
    tokensPerS: (1000 * tokens) / stepMs, stepMs, steps: steps.length, minStepMs: Math.min(...ms), maxStepMs: Math.max(...ms),
    forwardMs: median(steps.map((s) => s.forwardMs)), backwardMs: median(steps.map((s) => s.backwardMs)), optimizerMs: median(steps.map((s) => s.optimizerMs)),
  };
}

export interface TrainBenchCase {
  name: string; shape: string; tokens: number; completionTokens: number; params: number;
  gflopPerStep: number; ours: Summary; mfuPct: number;
  torch?: Summary & { version: string; params: number; mfuPct: number };
  /** ours ÷ torch tokens/s per round (medians of that round's steps), and their median. */
  roundRatios?: number[]; ratio?: number;
  peer?: string;
}

export interface TrainBenchResult { machine: Machine; rounds: number; stepsPerRound: number; cases: TrainBenchCase[] }

export async function run(argv: string[]): Promise<number> {
  let jsonFile: string | undefined, rounds = 5, stepsPerRound = 3, usePeer = true, vl = true;
  const usage = 'usage: gmai bench train [--rounds N] [--steps K] [--no-peer] [--skip-vl] [--json FILE]\n';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json' && argv[i + 1]) jsonFile = argv[++i];
    else if (a === '--rounds' || a === '--steps') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) { process.stderr.write(`gmai bench train: ${a} needs a whole number >= 1\n${usage}`); return 2; }
      if (a === '--rounds') rounds = n; else stepsPerRound = n;
    } else if (a === '--no-peer') usePeer = false;
    else if (a === '--skip-vl') vl = false;
    else { process.stderr.write(usage); return 2; }
  }
  const say = (s: string) => process.stderr.write(`${s}\n`);
  say('measuring FMA peak ...');
  let machine = measureMachine({ bandwidthMB: 64, reps: 3 });
  const cases: TrainBenchCase[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'gmai-bench-train-'));
  try {
    // ---- the small text decoder, ours vs torch
    const s = TRAIN_SHAPE, B = 8, S = 256, C = 128;
    const textDir = await writeRandomModel(join(dir, 'text'), { ...qwenVlConfig(s, TINY_VISION), ...SMALL_IDS }, { seed: 5 });
    const batch: SftExample[] = Array.from({ length: B }, (_, b) => ({ inputIds: ids(S - C, 0, 4000, 2 * b + 1), completionIds: ids(C, 0, 4000, 2 * b + 2) }));
    const text = await trainer(textDir, () => batch);
    let peer: PythonPeerProcess | undefined, peerWhy: string | undefined;
    try {
      if (usePeer) {
        say(`starting the PyTorch peer (${machine.threads} threads) ...`);
        const started = await startPythonPeer(join(packageRoot, 'bench', 'peers', 'train_peer.py'), [
          '--hidden', String(s.hidden), '--layers', String(s.layers), '--heads', String(s.heads), '--kv-heads', String(s.kvHeads),
          '--intermediate', String(s.intermediate), '--vocab', String(s.vocab), '--batch', String(B), '--seq', String(S),
          '--completion', String(C), '--threads', String(machine.threads), '--rope-theta', String(s.ropeTheta), '--eps', String(s.rmsEps), '--tied',
        ], {
          // PASSIVE: idle OpenMP threads sleep instead of spinning. Spinning starves OpenBLAS's own
          // threads on a busy machine: torch's step took about 3× longer without it (bench/RESULTS.md).
          env: { OMP_NUM_THREADS: String(machine.threads), OPENBLAS_NUM_THREADS: String(machine.threads), OMP_WAIT_POLICY: 'PASSIVE' },
          unset: ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'],  // as lib/bench/gemm.ts: they slow current OpenBLAS
        });
        if (started.ok) peer = started.data; else peerWhy = started.reason;
        if (peerWhy) say(`PyTorch peer unavailable: ${peerWhy}`);
      }
      say('ours: 2 warm-up steps ...');
      text.step(); text.step();
      const ours: StepTimes[] = [], theirs: StepTimes[] = [], roundRatios: number[] = [];
      for (let r = 0; r < rounds; r++) {
        say(`round ${r + 1}/${rounds}: ${stepsPerRound} steps each${peer ? (r % 2 ? ', torch first' : ', ours first') : ''} ...`);
        const runOurs = () => Array.from({ length: stepsPerRound }, () => text.step());
        const runTorch = async () => peer ? (await peer.request<{ steps: StepTimes[] }>(`steps ${stepsPerRound}`)).steps : [];
        let o: StepTimes[], t: StepTimes[];
        if (r % 2) { t = await runTorch(); o = runOurs(); } else { o = runOurs(); t = await runTorch(); }
        ours.push(...o); theirs.push(...t);
        if (t.length) roundRatios.push(median(t.map(total)) / median(o.map(total)));
      }
      machine = bestMachine(machine, measureMachine({ bandwidthMB: 64, reps: 3 }));
      const tokens = B * S, flops = decoderStepFlops(s, batch.map(() => S), B * C);
      const o = summarise(ours, tokens);
      const mfu = (sum: Summary) => (100 * flops) / (sum.stepMs * 1e6) / machine.peakGflops;
      const params = text.model.parameters().filter(([n]) => !n.startsWith('visual.')).reduce((a, [, t]) => a + t.size, 0);
      const c: TrainBenchCase = { name: 'qwen2-small text', shape: `h${s.hidden} L${s.layers} heads ${s.heads}/${s.kvHeads} I${s.intermediate} V${s.vocab}, ${B}×${S} tokens (loss on ${C}/seq)`, tokens, completionTokens: B * C, params, gflopPerStep: flops / 1e9, ours: o, mfuPct: mfu(o) };
      if (theirs.length && peer) {
        const t = summarise(theirs, tokens);
        c.torch = { ...t, version: String(peer.ready.torch), params: Number(peer.ready.params), mfuPct: mfu(t) };
        c.roundRatios = roundRatios;
        c.ratio = median(roundRatios);
      } else c.peer = peerWhy ?? 'not run (--no-peer)';
      cases.push(c);
    } finally {
      peer?.close();
      text.dispose();
    }

    // ---- the demo tiny Qwen2.5-VL with an image per example (ours only)
    if (vl) {
      const vlDir = await writeTinyModel(join(dir, 'tiny-vl'));
      const grid = { t: 1, h: 8, w: 8 }, patches = grid.t * grid.h * grid.w, merged = patches / 4;
      const makeBatch = (m: Model): SftExample[] => Array.from({ length: 8 }, (_, b) => {
        const tok = m.config.tokens;
        const pixels = new Float32Array(patches * 3 * 2 * 14 * 14);
        let x = b + 1;
        for (let i = 0; i < pixels.length; i++) { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; pixels[i] = x / 2 ** 31 - 1; }
        // <|vision_start|> image pads <|vision_end|> question (byte tokens), then the answer
        return { inputIds: [tok.visionStart, ...Array<number>(merged).fill(tok.image), tok.visionEnd, ...ids(46, 32, 127, 3 * b + 1)], pixelValues: pixels, imageGridThw: [[grid.t, grid.h, grid.w]], completionIds: ids(64, 32, 127, 3 * b + 2) };
      });
      const tiny = await trainer(vlDir, makeBatch);
      const vlBatch = tiny.batch;
      try {
        say('tiny Qwen2.5-VL with images: 2 warm-up steps ...');
        tiny.step(); tiny.step();
        const steps: StepTimes[] = [];
        for (let i = 0; i < rounds * stepsPerRound; i++) steps.push(tiny.step());
        const cfg = tiny.model.config, t = cfg.text;
        const shape: Qwen2Shape = { hidden: t.hiddenSize, layers: t.numLayers, heads: t.numHeads, kvHeads: t.numKvHeads, intermediate: t.intermediateSize, vocab: t.vocabSize, tied: true, ropeTheta: 0, rmsEps: 0 };
        const seqLens = vlBatch.map((e) => e.inputIds.length + e.completionIds.length);
        const tokens = seqLens.reduce((a, b) => a + b, 0), completion = vlBatch.reduce((a, e) => a + e.completionIds.length, 0);
        // The vision blocks are frozen (the default recipe): their forward only, once per image.
        const visionFlops = vlBatch.length * visionTowerFlops(visionShape(tiny.model), grid);
        const flops = decoderStepFlops(shape, seqLens, completion) + visionFlops;
        const o = summarise(steps, tokens);
        const params = tiny.model.parameters().reduce((a, [, p]) => a + p.size, 0);
        cases.push({
          name: 'tiny qwen2.5-vl + images', shape: `h${shape.hidden} L${shape.layers} V${shape.vocab}, vision depth ${cfg.vision.depth}; 8 × (${vlBatch[0].inputIds.length} prompt tokens of which ${merged} image (${grid.h}×${grid.w} patches) + ${vlBatch[0].completionIds.length} completion)`,
          tokens, completionTokens: completion, params, gflopPerStep: flops / 1e9, ours: o, mfuPct: (100 * flops) / (o.stepMs * 1e6) / machine.peakGflops,
          peer: 'none (the torch peer has no vision tower)',
        });
      } finally {
        tiny.dispose();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const f = (v: number | undefined, d = 1) => (v === undefined ? '—' : v.toFixed(d));
  process.stdout.write(`\ntraining step (forward, backward, AdamW + clipping), float32, ${machine.threads} threads, ${machine.isa}, ` +
    `measured fp32 peak ${f(machine.peakGflops)} GFLOP/s; medians of ${rounds} × ${stepsPerRound} steps after 2 warm-up steps\n\n`);
  process.stdout.write(formatTable(
    ['model', 'tokens', 'GFLOP/step', 'ours tok/s', 'fwd ms', 'bwd ms', 'opt ms', 'MFU %', 'torch tok/s', 'torch fwd/bwd/opt ms', 'torch MFU %', 'ours/torch', 'round ratios'],
    cases.map((c) => [c.name, c.tokens, f(c.gflopPerStep, 2), f(c.ours.tokensPerS, 0), f(c.ours.forwardMs, 0), f(c.ours.backwardMs, 0), f(c.ours.optimizerMs, 0), f(c.mfuPct),
      f(c.torch?.tokensPerS, 0), c.torch ? `${f(c.torch.forwardMs, 0)}/${f(c.torch.backwardMs, 0)}/${f(c.torch.optimizerMs, 0)}` : '—', f(c.torch?.mfuPct),
      c.ratio ? `${f(c.ratio, 2)}×` : '—', c.roundRatios ? `${f(Math.min(...c.roundRatios), 2)}–${f(Math.max(...c.roundRatios), 2)}` : (c.peer ?? '')]),
  ));
  for (const c of cases) process.stdout.write(`${c.name}: ${c.shape}; ${(c.params / 1e6).toFixed(2)} M parameters; ours step ${f(c.ours.minStepMs, 0)}–${f(c.ours.maxStepMs, 0)} ms` +
    (c.torch ? `, torch ${c.torch.version} step ${f(c.torch.minStepMs, 0)}–${f(c.torch.maxStepMs, 0)} ms` : '') + '\n');
  if (jsonFile) {
    const result: TrainBenchResult = { machine, rounds, stepsPerRound, cases };
    await writeJsonAtomic(jsonFile, result);
    say(`wrote ${jsonFile}`);
  }
  return 0;
}

/** The tiny model's vision_config in the shape visionTowerFlops takes. */
function visionShape(model: Model): VisionTowerShape {
  const v = model.config.vision;
  return {
    depth: v.depth, hidden_size: v.hiddenSize, intermediate_size: v.intermediateSize, num_heads: v.numHeads, out_hidden_size: v.outHiddenSize,
    patch_size: v.patchSize, spatial_merge_size: v.spatialMergeSize, temporal_patch_size: v.temporalPatchSize, in_channels: v.inChannels,
    window_size: v.windowSize, fullatt_block_indexes: [...v.fullattBlockIndexes],
  };
}
