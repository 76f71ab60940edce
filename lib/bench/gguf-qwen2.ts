// A Qwen2 text decoder's Hugging Face tensors laid out for llama.cpp's GGUF, so a benchmark can
// run llama.cpp on exactly the weights (shapes and bytes) our engine runs.
import { cast } from '../ops/index.js';
import { Tensor, disposeAll } from '../tensor.js';
import { GgmlType, GgufTensor, GgufValue } from './gguf.js';

export interface Qwen2Shape {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  vocab: number;
  tied: boolean;
  ropeTheta: number;
  rmsEps: number;
}

/** One checkpoint tensor as bf16 bit patterns. */
export interface RawTensor {
  shape: number[];
  data: Uint16Array;
}

const ggufName: [RegExp, string][] = [
  [/^model\.embed_tokens\.weight$/, 'token_embd.weight'],
  [/^model\.norm\.weight$/, 'output_norm.weight'],
  [/^lm_head\.weight$/, 'output.weight'],
  [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'blk.$1.attn_norm.weight'],
  [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'blk.$1.ffn_norm.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.q_proj\.(weight|bias)$/, 'blk.$1.attn_q.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.k_proj\.(weight|bias)$/, 'blk.$1.attn_k.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.v_proj\.(weight|bias)$/, 'blk.$1.attn_v.$2'],
  [/^model\.layers\.(\d+)\.self_attn\.o_proj\.weight$/, 'blk.$1.attn_output.weight'],
  [/^model\.layers\.(\d+)\.mlp\.gate_proj\.weight$/, 'blk.$1.ffn_gate.weight'],
  [/^model\.layers\.(\d+)\.mlp\.up_proj\.weight$/, 'blk.$1.ffn_up.weight'],
  [/^model\.layers\.(\d+)\.mlp\.down_proj\.weight$/, 'blk.$1.ffn_down.weight'],
];

/** bf16 bits → f16 bits through the native conversion kernels (round to nearest even). */
function bf16ToF16Bits(src: Uint16Array): Uint16Array {
  const b = Tensor.from<'bfloat16'>(src, [src.length], { dtype: 'bfloat16' });
  const f32 = cast(b, 'float32');
  const f16 = cast(f32, 'float16');
  const out = new Uint16Array(f16.toBytes().buffer);
  disposeAll(b, f32, f16);
  return out;
}

/** The same weights as GGUF tensors (matrices in `type`, norms and biases in f32). */
export function qwen2GgufTensors(w: Map<string, RawTensor>, type: 'bf16' | 'f16'): GgufTensor[] {
  const out: GgufTensor[] = [];
  for (const [name, t] of w) {
    const rule = ggufName.find(([re]) => re.test(name));
    if (!rule) throw new Error(`no GGUF name for ${name}`);
    const gname = name.replace(rule[0], rule[1]);
    const bits = t.data as Uint16Array;
    if (t.shape.length === 1) {
      const f = new Float32Array(bits.length), u = new Uint32Array(f.buffer);
      for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
      out.push({ name: gname, ne: [t.shape[0]], type: GgmlType.F32, data: new Uint8Array(f.buffer) });
    } else {
      const data = type === 'bf16' ? bits : bf16ToF16Bits(bits);
      out.push({ name: gname, ne: [t.shape[1], t.shape[0]], type: type === 'bf16' ? GgmlType.BF16 : GgmlType.F16, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    }
  }
  return out;
}

/** GGUF metadata for a Qwen2 decoder with a placeholder vocabulary (ids are fed directly). */
export function qwen2GgufMetadata(s: Qwen2Shape): Record<string, GgufValue> {
  const tokens = Array.from({ length: s.vocab }, (_, i) => (i < 256 ? String.fromCodePoint(0x100 + i) : `<t${i}>`));
  return {
    'general.architecture': { type: 'string', value: 'qwen2' },
    'general.name': { type: 'string', value: 'gmai-bench-random' },
    'qwen2.context_length': { type: 'u32', value: 32768 },
    'qwen2.embedding_length': { type: 'u32', value: s.hidden },
    'qwen2.block_count': { type: 'u32', value: s.layers },
    'qwen2.feed_forward_length': { type: 'u32', value: s.intermediate },
    'qwen2.attention.head_count': { type: 'u32', value: s.heads },
    'qwen2.attention.head_count_kv': { type: 'u32', value: s.kvHeads },
    'qwen2.rope.freq_base': { type: 'f32', value: s.ropeTheta },
    'qwen2.attention.layer_norm_rms_epsilon': { type: 'f32', value: s.rmsEps },
    'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
    'tokenizer.ggml.pre': { type: 'string', value: 'qwen2' },
    'tokenizer.ggml.tokens': { type: 'string[]', value: tokens },
    'tokenizer.ggml.token_type': { type: 'i32[]', value: tokens.map(() => 1) },
    'tokenizer.ggml.merges': { type: 'string[]', value: ['<t 1'] },
    'tokenizer.ggml.bos_token_id': { type: 'u32', value: 1 },
    'tokenizer.ggml.eos_token_id': { type: 'u32', value: 2 },
  };
}
