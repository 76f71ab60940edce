// What the model-level benchmarks share: the Qwen2.5-0.5B text decoder shape written as a
// random bf16 Qwen2.5-VL checkpoint, the same weights as a GGUF for llama.cpp, and a runner
// for the llama.cpp peer scripts (bench/peers/*.mjs, from `npm install --prefix bench`).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeRandomModel } from '../demo/random-model.js';
import { openSafetensors } from '../io/safetensors.js';
import { packageRoot } from '../native.js';
import { writeGguf } from './gguf.js';
import { qwen2GgufMetadata, qwen2GgufTensors, type Qwen2Shape, type RawTensor } from './gguf-qwen2.js';

export const QWEN25_05B: Qwen2Shape = { hidden: 896, layers: 24, heads: 14, kvHeads: 2, intermediate: 4864, vocab: 151936, tied: true, ropeTheta: 1e6, rmsEps: 1e-6 };
export const QWEN_IDS = { bos: 151643, eos: 151645, visionStart: 151652, visionEnd: 151653, visionPad: 151654, image: 151655, video: 151656 };

/** A Qwen2.5-VL config.json with `text` as the decoder and `vision` fields for the tower. */
export function qwenVlConfig(text: Qwen2Shape, vision: Record<string, unknown>): Record<string, unknown> {
  const ids = QWEN_IDS;
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

/** A one-block vision tower: the text-decoder benchmarks do not use it. */
export const TINY_VISION = { depth: 1, hidden_size: 32, intermediate_size: 64, num_heads: 2, window_size: 112, fullatt_block_indexes: [0] };

/** Writes random bf16 weights of Qwen2.5-0.5B's decoder (≈1 GB) as a Qwen2.5-VL folder. */
export function writeQwen05b(dir: string): Promise<string> {
  return writeRandomModel(dir, qwenVlConfig(QWEN25_05B, TINY_VISION), { seed: 11 });
}

/** Bytes of weights read per decoded token (every matrix once, embedding as lm_head). */
export function decodeWeightBytes(s: Qwen2Shape): number {
  const kv = (s.hidden / s.heads) * s.kvHeads;
  const perLayer = 2 * s.hidden * s.hidden + 2 * kv * s.hidden + 3 * s.hidden * s.intermediate;
  return 2 * (s.layers * perLayer + s.vocab * s.hidden);
}

/** Matrix flops per prompt token of a prefill: every layer's projections and MLP (lm_head
 *  only for the last position, as generation needs). */
export function prefillFlopsPerToken(s: Qwen2Shape): number {
  const kv = (s.hidden / s.heads) * s.kvHeads;
  return 2 * s.layers * (2 * s.hidden * s.hidden + 2 * kv * s.hidden + 3 * s.hidden * s.intermediate);
}

/** Ordinary token ids (no special tokens), seeded. */
export function randomIds(n: number, seed: number): Int32Array {
  let x = seed;
  return Int32Array.from({ length: n }, () => { x = (x * 1103515245 + 12345) >>> 0; return 300 + (x % 100000); });
}

export const havePeers = (): boolean => existsSync(join(packageRoot, 'bench', 'node_modules', 'node-llama-cpp'));
export const PEERS_HINT = 'llama.cpp peer unavailable: run `npm install --prefix bench` to install node-llama-cpp 3.21.1';

/** The text decoder of a random checkpoint folder as a BF16 or F16 GGUF (same values). */
export function writeTextGguf(textDir: string, shape: Qwen2Shape, type: 'bf16' | 'f16', file: string): void {
  const st = openSafetensors(join(textDir, 'model.safetensors'));
  const raw = new Map<string, RawTensor>();
  try {
    for (const k of st.keys()) {
      if (!k.startsWith('model.')) continue; // text decoder only
      const t = st.get(k);
      raw.set(k, { shape: [...t.shape], data: new Uint16Array(t.toBytes().buffer) });
      t.dispose();
    }
  } finally {
    st.close();
  }
  writeGguf(file, qwen2GgufMetadata(shape), qwen2GgufTensors(raw, type));
}

/** Runs bench/peers/<script> in a child Node process; its last stdout line is JSON. */
export function runPeer<T>(script: string, args: string[]): Promise<T | string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(packageRoot, 'bench', 'peers', script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => {
      try { resolve(code === 0 ? JSON.parse(out.trim().split('\n').pop()!) as T : `llama.cpp peer failed: ${err.trim().split('\n').pop()}`); }
      catch { resolve(`llama.cpp peer: unreadable output`); }
    });
  });
}
