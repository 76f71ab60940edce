// `gmai bench model [--json FILE] [--decode N] [--prompt N] [--no-peers] [--skip-vision]`:
//  - the text decoder of Qwen2.5-0.5B (random bf16 weights of the real shapes): prefill of
//    512 tokens and decode at context 512, against the memory roofline (weight bytes per token
//    over measured bandwidth) and against llama.cpp on the same weights (BF16 and F16 GGUF,
//    node-llama-cpp from `npm install --prefix bench`), timed in the same run;
//  - the vision tower of Qwen2.5-VL-3B on a 448×448 image: images/s and GFLOP/s vs the peak.
// Runs synchronously in this CLI process (benchmark use), printing progress.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRandomModel } from '../demo/random-model.js';
import { openSafetensors } from '../io/safetensors.js';
import { loadModel } from '../model/model.js';
import { packageRoot } from '../native.js';
import { writeGguf } from './gguf.js';
import { qwen2GgufMetadata, qwen2GgufTensors, type Qwen2Shape, type RawTensor } from './gguf-qwen2.js';
import { bestMachine, formatTable, measureMachine, writeJsonAtomic, type Machine } from './roofline.js';
import { VISION_3B, visionTowerFlops } from './vision-flops.js';

const QWEN25_05B: Qwen2Shape = { hidden: 896, layers: 24, heads: 14, kvHeads: 2, intermediate: 4864, vocab: 151936, tied: true, ropeTheta: 1e6, rmsEps: 1e-6 };
const ids = { bos: 151643, eos: 151645, visionStart: 151652, visionEnd: 151653, visionPad: 151654, image: 151655, video: 151656 };

function qwenVlConfig(text: Qwen2Shape, vision: Record<string, unknown>): Record<string, unknown> {
  return {
    architectures: ['Qwen2_5_VLForConditionalGeneration'], model_type: 'qwen2_5_vl',
    vocab_size: text.vocab, hidden_size: text.hidden, intermediate_size: text.intermediate,
    num_hidden_layers: text.layers, num_attention_heads: text.heads, num_key_value_heads: text.kvHeads,
    hidden_act: 'silu', rms_norm_eps: text.rmsEps, rope_theta: text.ropeTheta, max_position_embeddings: 32768,
    // Qwen2.5-VL splits head_dim/2 frequencies as 1/4 temporal, 3/8 height, 3/8 width.
    rope_scaling: { type: 'mrope', mrope_section: [text.hidden / text.heads / 8, (3 * text.hidden) / text.heads / 16, (3 * text.hidden) / text.heads / 16] },
    tie_word_embeddings: text.tied, torch_dtype: 'bfloat16',
    bos_token_id: ids.bos, eos_token_id: ids.eos, image_token_id: ids.image, video_token_id: ids.video,
    vision_start_token_id: ids.visionStart, vision_end_token_id: ids.visionEnd, vision_token_id: ids.visionPad,
    vision_config: { patch_size: 14, spatial_merge_size: 2, temporal_patch_size: 2, in_channels: 3, hidden_act: 'silu', tokens_per_second: 2, out_hidden_size: text.hidden, ...vision },
  };
}

const TINY_VISION = { depth: 1, hidden_size: 32, intermediate_size: 64, num_heads: 2, window_size: 112, fullatt_block_indexes: [0] };

/** Bytes of weights read per decoded token (every matrix once, embedding as lm_head). */
function decodeWeightBytes(s: Qwen2Shape): number {
  const kv = (s.hidden / s.heads) * s.kvHeads;
  const perLayer = 2 * s.hidden * s.hidden + 2 * kv * s.hidden + 3 * s.hidden * s.intermediate;
  return 2 * (s.layers * perLayer + s.vocab * s.hidden);
}

function randomIds(n: number, seed: number): Int32Array {
  let x = seed;
  return Int32Array.from({ length: n }, () => { x = (x * 1103515245 + 12345) >>> 0; return 300 + (x % 100000); });
}

function runLlama(gguf: string, threads: number, prompt: number, decode: number): Promise<{ prefillTokensPerS: number; decodeTokensPerS: number; engine: string } | string> {
  const script = join(packageRoot, 'bench', 'peers', 'llama.mjs');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, gguf, '--threads', String(threads), '--prompt', String(prompt), '--decode', String(decode)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => {
      try { resolve(code === 0 ? JSON.parse(out.trim().split('\n').pop()!) : `llama.cpp peer failed: ${err.trim().split('\n').pop()}`); }
      catch { resolve(`llama.cpp peer: unreadable output`); }
    });
  });
}

interface Row { kernel: string; shape: string; dtype: string; ms: number; gflops: number; gbps: number; tokensPerS?: number; pctBandwidth?: number; pctPeak?: number; peer?: string; ratio?: number }

export async function run(argv: string[]): Promise<number> {
  let jsonFile: string | undefined, peers = true, vision = true, promptLen = 512, decodeN = 32;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') jsonFile = argv[++i];
    else if (argv[i] === '--no-peers') peers = false;
    else if (argv[i] === '--skip-vision') vision = false;
    else if (argv[i] === '--prompt') promptLen = Number(argv[++i]);
    else if (argv[i] === '--decode') decodeN = Number(argv[++i]);
    else { process.stderr.write('usage: gmai bench model [--json FILE] [--prompt N] [--decode N] [--no-peers] [--skip-vision]\n'); return 2; }
  }
  const say = (s: string) => process.stderr.write(`${s}\n`);
  let machine: Machine = measureMachine();
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'gmai-bench-model-'));
  try {
    // ---- text decoder of Qwen2.5-0.5B
    say('writing random bf16 weights of Qwen2.5-0.5B (≈1 GB) …');
    const textDir = await writeRandomModel(join(dir, 'text'), qwenVlConfig(QWEN25_05B, TINY_VISION), { seed: 11 });
    const model = await loadModel(textDir);
    const prompt = { inputIds: randomIds(promptLen, 1) };
    let prefillMs = Infinity, decodeMs = Infinity;
    for (let rep = 0; rep < 2; rep++) {
      say(`decoder: prefill ${promptLen} tokens, then ${decodeN} decode steps (rep ${rep + 1}/2) …`);
      const s = model.createSession({ capacity: promptLen + decodeN + 8 });
      let t0 = performance.now();
      let logits = s.prefillSync(prompt);
      prefillMs = Math.min(prefillMs, performance.now() - t0);
      t0 = performance.now();
      for (let i = 0; i < decodeN; i++) {
        let best = 0;
        for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
        logits = s.stepSync(best === ids.image || best === ids.video ? 300 : best);
      }
      decodeMs = Math.min(decodeMs, (performance.now() - t0) / decodeN);
      s.dispose();
    }
    model.dispose();
    const wBytes = decodeWeightBytes(QWEN25_05B);
    const prefillFlops = 2 * promptLen * wBytes / 2;
    rows.push({ kernel: 'decoder prefill', shape: `Qwen2.5-0.5B, ${promptLen} tokens`, dtype: 'bf16 weights', ms: prefillMs, gflops: prefillFlops / prefillMs / 1e6, gbps: wBytes / prefillMs / 1e6, tokensPerS: promptLen / (prefillMs / 1000), pctPeak: 100 * (prefillFlops / prefillMs / 1e6) / machine.peakGflops });
    rows.push({ kernel: 'decoder decode', shape: `Qwen2.5-0.5B, context ${promptLen}`, dtype: 'bf16 weights', ms: decodeMs, gflops: wBytes / decodeMs / 1e6, gbps: wBytes / decodeMs / 1e6, tokensPerS: 1000 / decodeMs, pctBandwidth: 100 * (wBytes / decodeMs / 1e6) / machine.bandwidthGBps });

    // ---- llama.cpp on the same weights
    const havePeer = existsSync(join(packageRoot, 'bench', 'node_modules', 'node-llama-cpp'));
    if (peers && !havePeer) say('llama.cpp peer unavailable: run `npm install --prefix bench` to install node-llama-cpp 3.21.1');
    if (peers && havePeer) {
      const file = openSafetensors(join(textDir, 'model.safetensors'));
      const raw = new Map<string, RawTensor>();
      for (const k of file.keys()) {
        if (!k.startsWith('model.')) continue; // text decoder only
        const t = file.get(k);
        raw.set(k, { shape: [...t.shape], data: new Uint16Array(t.toBytes().buffer) });
        t.dispose();
      }
      file.close();
      for (const type of ['bf16', 'f16'] as const) {
        say(`llama.cpp: writing a ${type.toUpperCase()} GGUF of the same weights and timing it …`);
        const gguf = join(dir, `text-${type}.gguf`);
        writeGguf(gguf, qwen2GgufMetadata(QWEN25_05B), qwen2GgufTensors(raw, type));
        const r = await runLlama(gguf, machine.threads, promptLen, decodeN);
        rmSync(gguf, { force: true });
        if (typeof r === 'string') { say(r); continue; }
        const pre = rows.find((x) => x.kernel === 'decoder prefill')!, dec = rows.find((x) => x.kernel === 'decoder decode')!;
        rows.push({ kernel: `llama.cpp prefill`, shape: pre.shape, dtype: `${type} GGUF`, ms: (promptLen / r.prefillTokensPerS) * 1000, gflops: 0, gbps: 0, tokensPerS: r.prefillTokensPerS, peer: r.engine, ratio: pre.tokensPerS! / r.prefillTokensPerS });
        rows.push({ kernel: `llama.cpp decode`, shape: dec.shape, dtype: `${type} GGUF`, ms: 1000 / r.decodeTokensPerS, gflops: 0, gbps: wBytes / (1000 / r.decodeTokensPerS) / 1e6, tokensPerS: r.decodeTokensPerS, peer: r.engine, ratio: dec.tokensPerS! / r.decodeTokensPerS });
      }
    }
    rmSync(textDir, { recursive: true, force: true });

    // ---- vision tower of Qwen2.5-VL-3B on 448×448
    if (vision) {
      say('writing random bf16 weights of the Qwen2.5-VL-3B vision tower (≈1.3 GB) …');
      const tinyText: Qwen2Shape = { hidden: 2048, layers: 1, heads: 16, kvHeads: 2, intermediate: 256, vocab: 151936, tied: true, ropeTheta: 1e6, rmsEps: 1e-6 };
      const visDir = await writeRandomModel(join(dir, 'vision'), qwenVlConfig(tinyText, VISION_3B), { seed: 12 });
      const vm = await loadModel(visDir);
      const grid: [number, number, number] = [1, 32, 32];
      const patches = 1024, tokens = patches / 4;
      const pixelValues = Float32Array.from({ length: patches * 1176 }, (_, i) => Math.sin(i) * 0.5);
      const inputIds = Int32Array.from([ids.visionStart, ...new Array(tokens).fill(ids.image), ids.visionEnd]);
      let best = Infinity;
      for (let rep = 0; rep < 2; rep++) {
        say(`vision tower: 448×448 image (rep ${rep + 1}/2) …`);
        const t0 = performance.now();
        await vm.forward({ inputIds, pixelValues, imageGridThw: [grid] });
        best = Math.min(best, performance.now() - t0);
      }
      vm.dispose();
      const flops = visionTowerFlops(VISION_3B, { t: grid[0], h: grid[1], w: grid[2] });
      rows.push({ kernel: 'vision tower', shape: 'Qwen2.5-VL-3B, 448×448 (1024 patches)', dtype: 'bf16 weights', ms: best, gflops: flops / best / 1e6, gbps: 0, tokensPerS: 1000 / best, pctPeak: 100 * (flops / best / 1e6) / machine.peakGflops });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  machine = bestMachine(machine, measureMachine());
  const f = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? '' : x.toFixed(d));
  process.stdout.write(`\nModel benchmark, ${machine.threads} threads, ${machine.isa}; measured peak ${f(machine.peakGflops)} GFLOP/s, bandwidth ${f(machine.bandwidthGBps)} GB/s\n` +
    `decode roofline: ${(decodeWeightBytes(QWEN25_05B) / 1e9).toFixed(2)} GB of weights per token → at most ${f(machine.bandwidthGBps / (decodeWeightBytes(QWEN25_05B) / 1e9))} tokens/s\n\n`);
  process.stdout.write(formatTable(['what', 'shape', 'weights', 'ms', 'per s', 'GFLOP/s', '% peak', '% bandwidth', 'ours ÷ peer'],
    rows.map((r) => [r.kernel, r.shape, r.dtype, f(r.ms, 2), f(r.tokensPerS), f(r.gflops || undefined), f(r.pctPeak), f(r.pctBandwidth), f(r.ratio, 2)])));
  if (jsonFile) writeJsonAtomic(jsonFile, rows.map((r) => ({ ...r, threads: machine.threads, isa: machine.isa, peakGflops: machine.peakGflops, bandwidthGBps: machine.bandwidthGBps })));
  return 0;
}
