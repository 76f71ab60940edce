// A tiny Qwen2.5-VL-shaped model folder made on the spot (no download): a byte-level BPE
// tokenizer (256 byte tokens, merges learned from a corpus if one is given, Qwen's special
// tokens), config files, and random bf16 weights for exactly the tensors the config requires.
// Untrained, its answers are noise: it exists to run the whole pipeline (image → vision tower →
// decoder → streamed reasoning → parsed answer) anywhere, and is what `gmai demo train` starts from.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { learnMerges } from './bpe.js';
import { writeRandomModel } from './random-model.js';

const SPECIAL = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|vision_start|>', '<|vision_end|>', '<|vision_pad|>', '<|image_pad|>', '<|video_pad|>'];

/** GPT-2's printable stand-ins for the 256 byte values (byte-level BPE alphabet). */
function byteAlphabet(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let extra = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : 256 + extra++));
}

/** Byte tokens, then one token per merge, then the special tokens. */
function tokenizerJson(merges: readonly string[]): Record<string, unknown> {
  const symbols = [...byteAlphabet(), ...merges.map((m) => m.replace(' ', ''))];
  const vocab = Object.fromEntries(symbols.map((ch, i) => [ch, i]));
  return {
    version: '1.0',
    added_tokens: SPECIAL.map((content, i) => ({ id: symbols.length + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges: [...merges] },
  };
}

/** Qwen2.5-VL's split of the rotary pairs over (t, h, w), [16, 24, 24] of 64, for any head size. */
function mropeSection(headDim: number): [number, number, number] {
  const pairs = headDim / 2, t = pairs / 4, h = (pairs - t) / 2;
  return [t, h, h];
}

export interface TinyModelOptions {
  seed?: number;
  hidden?: number;
  layers?: number;
  visionDepth?: number;
  /** Vision tower width (default 32). */
  visionHidden?: number;
  /** Decoder rotary base (default 1e6, Qwen2.5-VL's). */
  ropeTheta?: number;
  /** Texts to learn BPE merges from (default none: one token per byte). */
  corpus?: readonly string[];
  /** At most this many merges (default 512). */
  mergeCount?: number;
}

/** Writes the tiny model into `dir` (created if needed) and returns `dir`. */
export async function writeTinyModel(dir: string, opts: TinyModelOptions = {}): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const merges = opts.corpus ? learnMerges(opts.corpus, byteAlphabet(), opts.mergeCount ?? 512) : [];
  const firstSpecial = 256 + merges.length;
  const id = (t: string) => firstSpecial + SPECIAL.indexOf(t);
  const hidden = opts.hidden ?? 64, visionHidden = opts.visionHidden ?? 32;
  const config = {
    architectures: ['Qwen2_5_VLForConditionalGeneration'],
    model_type: 'qwen2_5_vl',
    vocab_size: firstSpecial + SPECIAL.length,
    hidden_size: hidden, intermediate_size: hidden * 2, num_hidden_layers: opts.layers ?? 2,
    num_attention_heads: 4, num_key_value_heads: 2, hidden_act: 'silu', rms_norm_eps: 1e-6,
    rope_theta: opts.ropeTheta ?? 1e6, rope_scaling: { type: 'mrope', mrope_section: mropeSection(hidden / 4) },
    max_position_embeddings: 32768, tie_word_embeddings: true, torch_dtype: 'bfloat16',
    bos_token_id: id('<|endoftext|>'), eos_token_id: id('<|im_end|>'),
    image_token_id: id('<|image_pad|>'), video_token_id: id('<|video_pad|>'),
    vision_start_token_id: id('<|vision_start|>'), vision_end_token_id: id('<|vision_end|>'), vision_token_id: id('<|vision_pad|>'),
    vision_config: {
      depth: opts.visionDepth ?? 2, hidden_size: visionHidden, intermediate_size: 2 * visionHidden, num_heads: 2, out_hidden_size: hidden,
      patch_size: 14, spatial_merge_size: 2, temporal_patch_size: 2, window_size: 112, fullatt_block_indexes: [1],
      in_channels: 3, hidden_act: 'silu', tokens_per_second: 2,
    },
  };
  const generation = { bos_token_id: config.bos_token_id, eos_token_id: [config.eos_token_id, id('<|endoftext|>')] };
  writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({ min_pixels: 3136, max_pixels: 200704, patch_size: 14, merge_size: 2, temporal_patch_size: 2 }, null, 2));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson(merges)));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|im_end|>', pad_token: '<|endoftext|>' }));
  await writeRandomModel(dir, config, { seed: opts.seed, generation });
  return dir;
}
