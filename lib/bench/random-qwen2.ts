// Random bf16 weights with the real shapes of a Qwen2 text decoder (e.g. Qwen2.5-0.5B), named
// as Hugging Face names them, plus the same tensors laid out for llama.cpp's GGUF. Both engines
// in a benchmark then run identical shapes and bytes.
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

/** Qwen2.5-0.5B's decoder. */
export const QWEN25_05B: Qwen2Shape = {
  hidden: 896, layers: 24, heads: 14, kvHeads: 2, intermediate: 4864, vocab: 151936,
  tied: true, ropeTheta: 1e6, rmsEps: 1e-6,
};

export interface RawTensor {
  dtype: 'bfloat16' | 'float32';
  shape: number[];
  /** bf16 bit patterns or float32 values. */
  data: Uint16Array | Float32Array;
}

/** Deterministic bf16 values ~ U(-scale, scale) from a xorshift stream. */
function randomBf16(n: number, seed: number, scale: number): Uint16Array {
  const out = new Uint16Array(n);
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    f[0] = ((s / 4294967296) * 2 - 1) * scale;
    out[i] = u[0] >>> 16;
  }
  return out;
}

/** HF-named tensors: `model.embed_tokens.weight`, `model.layers.N.*`, `model.norm.weight`. */
export function randomQwen2Weights(s: Qwen2Shape, seed = 1): Map<string, RawTensor> {
  const d = s.hidden / s.heads, kv = s.kvHeads * d;
  const w = new Map<string, RawTensor>();
  let k = seed;
  const mat = (name: string, out: number, inp: number) =>
    w.set(name, { dtype: 'bfloat16', shape: [out, inp], data: randomBf16(out * inp, k++, 1 / Math.sqrt(inp)) });
  const vec = (name: string, n: number, base: number, scale: number) => {
    const x = new Float32Array(n);
    const r = randomBf16(n, k++, scale), f = new Float32Array(1), u = new Uint32Array(f.buffer);
    for (let i = 0; i < n; i++) { u[0] = r[i] << 16; x[i] = base + f[0]; }
    w.set(name, { dtype: 'bfloat16', shape: [n], data: Uint16Array.from(x, (v) => { f[0] = v; return u[0] >>> 16; }) });
  };
  mat('model.embed_tokens.weight', s.vocab, s.hidden);
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}.`;
    vec(p + 'input_layernorm.weight', s.hidden, 1, 0.1);
    mat(p + 'self_attn.q_proj.weight', s.hidden, s.hidden); vec(p + 'self_attn.q_proj.bias', s.hidden, 0, 0.05);
    mat(p + 'self_attn.k_proj.weight', kv, s.hidden); vec(p + 'self_attn.k_proj.bias', kv, 0, 0.05);
    mat(p + 'self_attn.v_proj.weight', kv, s.hidden); vec(p + 'self_attn.v_proj.bias', kv, 0, 0.05);
    mat(p + 'self_attn.o_proj.weight', s.hidden, s.hidden);
    vec(p + 'post_attention_layernorm.weight', s.hidden, 1, 0.1);
    mat(p + 'mlp.gate_proj.weight', s.intermediate, s.hidden);
    mat(p + 'mlp.up_proj.weight', s.intermediate, s.hidden);
    mat(p + 'mlp.down_proj.weight', s.hidden, s.intermediate);
  }
  vec('model.norm.weight', s.hidden, 1, 0.1);
  if (!s.tied) mat('lm_head.weight', s.vocab, s.hidden);
  return w;
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
