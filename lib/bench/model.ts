// `gmai bench model [--json FILE] [--decode N] [--prompt N] [--no-peers] [--skip-vision]`:
//  - the text decoder of Qwen2.5-0.5B (random bf16 weights of the real shapes): prefill of
//    512 tokens and decode at context 512, against the memory roofline (weight bytes per token
//    over measured bandwidth) and against llama.cpp on the same weights (BF16 and F16 GGUF,
//    node-llama-cpp from `npm install --prefix bench`), timed in the same run;
//  - the vision tower of Qwen2.5-VL-3B on a 448×448 image: images/s and GFLOP/s vs the peak.
// Runs synchronously in this CLI process (benchmark use), printing progress.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRandomModel } from '../demo/random-model.js';
import { loadModel } from '../model/model.js';
import { encodeImages } from '../model/vision.js';
import { Tensor } from '../tensor.js';
import type { Qwen2Shape } from './gguf-qwen2.js';
import { decodeWeightBytes, havePeers, PEERS_HINT, prefillFlopsPerToken, QWEN25_05B, QWEN_IDS as ids, qwenVlConfig, randomIds, runPeer, writeQwen05b, writeTextGguf } from './qwen-text.js';
import { bestMachine, formatTable, measureBandwidth, measureMachine, median, writeJsonAtomic, type Machine } from './roofline.js';
import { VISION_3B, visionTowerFlops } from './vision-flops.js';

interface LlamaResult { prefillTokensPerS: number; decodeTokensPerS: number; engine: string }

/** Greedy next token (never an image/video placeholder), as the peer's decode does. */
function greedy(logits: Float32Array): number {
  let best = 0;
  for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
  return best === ids.image || best === ids.video ? 300 : best;
}

interface Row { kernel: string; shape: string; dtype: string; ms: number; gflops: number; gbps: number; tokensPerS?: number; pctBandwidth?: number; bandwidthGBps?: number; pctPeak?: number; computeBound?: boolean; peer?: string; ratio?: number; roundRatios?: number[] }

export async function run(argv: string[]): Promise<number> {
  let jsonFile: string | undefined, peers = true, vision = true, promptLen = 512, decodeN = 64, rounds = 3;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') jsonFile = argv[++i];
    else if (argv[i] === '--no-peers') peers = false;
    else if (argv[i] === '--skip-vision') vision = false;
    else if (argv[i] === '--prompt') promptLen = Number(argv[++i]);
    else if (argv[i] === '--decode') decodeN = Number(argv[++i]);
    else if (argv[i] === '--rounds') rounds = Number(argv[++i]);
    else { process.stderr.write('usage: gmai bench model [--json FILE] [--prompt N] [--decode N] [--rounds N] [--no-peers] [--skip-vision]\n'); return 2; }
  }
  for (const [name, v] of [['--prompt', promptLen], ['--decode', decodeN], ['--rounds', rounds]] as const) {
    if (!Number.isInteger(v) || v < 1) { process.stderr.write(`gmai bench model: ${name} must be a positive integer, got ${v}\n`); return 2; }
  }
  const say = (s: string) => process.stderr.write(`${s}\n`);
  let machine: Machine = measureMachine();
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'gmai-bench-model-'));
  try {
    // ---- text decoder of Qwen2.5-0.5B
    say('writing random bf16 weights of Qwen2.5-0.5B (≈1 GB) …');
    const textDir = await writeQwen05b(join(dir, 'text'));
    const model = await loadModel(textDir);
    const prompt = { inputIds: randomIds(promptLen, 1) };
    const wBytes = decodeWeightBytes(QWEN25_05B);
    const usePeers = peers && havePeers();
    if (peers && !usePeers) say(PEERS_HINT);
    const ggufs = usePeers ? (['bf16', 'f16'] as const).map((type) => {
      say(`llama.cpp: writing a ${type.toUpperCase()} GGUF of the same weights …`);
      const file = join(dir, `text-${type}.gguf`);
      writeTextGguf(textDir, QWEN25_05B, type, file);
      return { type, file };
    }) : [];

    // Ours and llama.cpp take turns (`rounds` rounds, best of each), so a slow spell on this
    // shared machine does not fall on one side only. Decode: greedy steps at context ≈ prompt.
    let prefillMs = Infinity, decodeMs = Infinity;
    const peerBest = new Map<string, LlamaResult>();
    // ours ÷ peer within each round (the two ran seconds apart), per peer and phase.
    const roundRatios = new Map<string, { prefill: number[]; decode: number[] }>();
    for (let round = 0; round < rounds; round++) {
      say(`round ${round + 1}/${rounds} — ours: prefill ${promptLen} tokens, then ${decodeN} decode steps …`);
      const s = model.createSession({ capacity: promptLen + decodeN + 8 });
      let t0 = performance.now();
      let logits = s.prefillSync(prompt);
      const roundPrefill = performance.now() - t0;
      t0 = performance.now();
      for (let i = 0; i < decodeN; i++) logits = s.stepSync(greedy(logits));
      const roundDecode = (performance.now() - t0) / decodeN;
      s.dispose();
      say(`  ours: prefill ${(promptLen / roundPrefill * 1000).toFixed(1)} tok/s, decode ${(1000 / roundDecode).toFixed(1)} tok/s`);
      prefillMs = Math.min(prefillMs, roundPrefill);
      decodeMs = Math.min(decodeMs, roundDecode);
      for (const g of ggufs) {
        say(`round ${round + 1}/${rounds} — llama.cpp ${g.type.toUpperCase()} …`);
        const r = await runPeer<LlamaResult>('llama.mjs', [g.file, '--threads', String(machine.threads), '--prompt', String(promptLen), '--decode', String(decodeN)]);
        if (typeof r === 'string') { say(r); continue; }
        say(`  llama.cpp ${g.type.toUpperCase()}: prefill ${r.prefillTokensPerS.toFixed(1)} tok/s, decode ${r.decodeTokensPerS.toFixed(1)} tok/s`);
        const rr = roundRatios.get(g.type) ?? { prefill: [], decode: [] };
        rr.prefill.push(promptLen / (roundPrefill / 1000) / r.prefillTokensPerS);
        rr.decode.push(1000 / roundDecode / r.decodeTokensPerS);
        roundRatios.set(g.type, rr);
        const best = peerBest.get(g.type);
        peerBest.set(g.type, best ? { ...r, prefillTokensPerS: Math.max(best.prefillTokensPerS, r.prefillTokensPerS), decodeTokensPerS: Math.max(best.decodeTokensPerS, r.decodeTokensPerS) } : r);
      }
    }
    // Decode is bandwidth-bound and this machine's bandwidth drifts with other tenants' load:
    // for the roofline, every 4 steps are timed right after a bandwidth probe; the median of
    // the per-pair ratios is the figure.
    say('decode against the bandwidth probe, in alternation …');
    const probes: number[] = [], ratios: number[] = [];
    {
      const s = model.createSession({ capacity: promptLen + decodeN + 8 });
      let logits = s.prefillSync(prompt);
      for (let i = 0; i < decodeN; i += 4) {
        const bw = measureBandwidth({ megabytes: 256, reps: 1 });
        const t1 = performance.now();
        for (let j = 0; j < 4; j++) logits = s.stepSync(greedy(logits));
        probes.push(bw);
        ratios.push(wBytes / ((performance.now() - t1) / 4) / 1e6 / bw);
      }
      s.dispose();
    }
    model.dispose();
    const prefillFlops = promptLen * prefillFlopsPerToken(QWEN25_05B) + 2 * QWEN25_05B.hidden * QWEN25_05B.vocab;
    rows.push({ kernel: 'decoder prefill', shape: `Qwen2.5-0.5B, ${promptLen} tokens`, dtype: 'bf16 weights', ms: prefillMs, gflops: prefillFlops / prefillMs / 1e6, gbps: wBytes / prefillMs / 1e6, tokensPerS: promptLen / (prefillMs / 1000), computeBound: true });
    rows.push({ kernel: 'decoder decode', shape: `Qwen2.5-0.5B, context ${promptLen}`, dtype: 'bf16 weights', ms: decodeMs, gflops: wBytes / decodeMs / 1e6, gbps: wBytes / decodeMs / 1e6, tokensPerS: 1000 / decodeMs, pctBandwidth: 100 * median(ratios), bandwidthGBps: median(probes) });
    const pre = rows[rows.length - 2], dec = rows[rows.length - 1];
    for (const [type, r] of peerBest) {
      const rr = roundRatios.get(type)!;
      rows.push({ kernel: `llama.cpp prefill`, shape: pre.shape, dtype: `${type} GGUF`, ms: (promptLen / r.prefillTokensPerS) * 1000, gflops: 0, gbps: 0, tokensPerS: r.prefillTokensPerS, peer: r.engine, ratio: pre.tokensPerS! / r.prefillTokensPerS, roundRatios: rr.prefill });
      rows.push({ kernel: `llama.cpp decode`, shape: dec.shape, dtype: `${type} GGUF`, ms: 1000 / r.decodeTokensPerS, gflops: 0, gbps: wBytes / (1000 / r.decodeTokensPerS) / 1e6, tokensPerS: r.decodeTokensPerS, peer: r.engine, ratio: dec.tokensPerS! / r.decodeTokensPerS, roundRatios: rr.decode });
    }
    for (const g of ggufs) rmSync(g.file, { force: true });
    rmSync(textDir, { recursive: true, force: true });

    // ---- vision tower of Qwen2.5-VL-3B on 448×448
    if (vision) {
      say('writing random bf16 weights of the Qwen2.5-VL-3B vision tower (≈1.3 GB) …');
      const tinyText: Qwen2Shape = { hidden: 2048, layers: 1, heads: 16, kvHeads: 2, intermediate: 256, vocab: 151936, tied: true, ropeTheta: 1e6, rmsEps: 1e-6 };
      const visDir = await writeRandomModel(join(dir, 'vision'), qwenVlConfig(tinyText, VISION_3B), { seed: 12 });
      const vm = await loadModel(visDir);
      const grid: [number, number, number] = [1, 32, 32];
      const patches = 1024;
      const pixelValues = Float32Array.from({ length: patches * 1176 }, (_, i) => Math.sin(i) * 0.5);
      // The tower alone (patch embedding through merger), as model.forward runs it for an image.
      using pixels = Tensor.from<'float32'>(pixelValues, [patches, pixelValues.length / patches]);
      let best = Infinity;
      for (let rep = 0; rep < 2; rep++) {
        say(`vision tower: 448×448 image (rep ${rep + 1}/2) …`);
        const t0 = performance.now();
        encodeImages(vm.weights.vision, vm.config.vision, pixels, [{ t: grid[0], h: grid[1], w: grid[2] }]).dispose();
        best = Math.min(best, performance.now() - t0);
      }
      vm.dispose();
      const flops = visionTowerFlops(VISION_3B, { t: grid[0], h: grid[1], w: grid[2] });
      rows.push({ kernel: 'vision tower', shape: 'Qwen2.5-VL-3B, 448×448 (1024 patches)', dtype: 'bf16 weights', ms: best, gflops: flops / best / 1e6, gbps: 0, tokensPerS: 1000 / best, computeBound: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  machine = bestMachine(machine, measureMachine());
  // Against the best peak probe of the run (one taken during a busy spell reads low).
  for (const r of rows) if (r.computeBound) r.pctPeak = (100 * r.gflops) / machine.peakGflops;
  const f = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? '' : x.toFixed(d));
  const dec = rows.find((x) => x.kernel === 'decoder decode');
  const decBw = dec?.bandwidthGBps ?? machine.bandwidthGBps;
  process.stdout.write(`\nModel benchmark, ${machine.threads} threads, ${machine.isa}; measured peak ${f(machine.peakGflops)} GFLOP/s, ` +
    `bandwidth ${f(machine.bandwidthGBps)} GB/s (best probe of the run), ${f(decBw)} GB/s (median of the probes run in alternation with decode)\n` +
    `decode roofline: ${(decodeWeightBytes(QWEN25_05B) / 1e9).toFixed(2)} GB of weights per token → at most ${f(decBw / (decodeWeightBytes(QWEN25_05B) / 1e9))} tokens/s at that bandwidth; ` +
    `% bandwidth = median over the pairs of (decode GB/s ÷ probe GB/s); ours and llama.cpp: best of ${rounds} alternating rounds; ` +
    `per round: ours ÷ peer within each round, median [min–max]\n\n`);
  const perRound = (x?: number[]) => (x?.length ? `${median(x).toFixed(2)} [${Math.min(...x).toFixed(2)}–${Math.max(...x).toFixed(2)}]` : '');
  process.stdout.write(formatTable(['what', 'shape', 'weights', 'ms', 'per s', 'GFLOP/s', '% peak', '% bandwidth', 'ours ÷ peer', 'per round'],
    rows.map((r) => [r.kernel, r.shape, r.dtype, f(r.ms, 2), f(r.tokensPerS), f(r.gflops || undefined), f(r.pctPeak), f(r.pctBandwidth), f(r.ratio, 2), perRound(r.roundRatios)])));
  if (jsonFile) await writeJsonAtomic(jsonFile, rows.map((r) => ({ ...r, threads: machine.threads, isa: machine.isa, peakGflops: machine.peakGflops, bandwidthGBps: machine.bandwidthGBps })));
  return 0;
}
