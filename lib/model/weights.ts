// Loads a checkpoint's tensors into the structure the towers use. Matrices keep the stored
// dtype (bf16 stays bf16, zero-copy from the mmap) unless `dtype` asks otherwise, in which
// case they are converted once here. Biases and norm weights become float32 (tiny; the ops
// add them in float32). On another `device` each tensor is uploaded once, right after it is
// read (and converted), and its CPU copy released; views (q/k/v rows of the fused vision qkv
// weight, the patch kernel, a tied lm_head) are taken afterwards, so they share the upload.
// The checkpoint file is closed once loaded: on the CPU the weights' views keep the mapping alive.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../io/safetensors.js';
import { cast } from '../ops/basic.js';
import { Tensor, type Device } from '../tensor.js';
import type { ModelConfig } from './config.js';
import { canonicalName, detectScheme, expectedShapes, type NamingScheme } from './weight-names.js';

export type F32 = Tensor<'float32'>;
export type Matrix = Tensor<'float32' | 'bfloat16' | 'float16'>;
export type WeightDType = 'float32' | 'bfloat16';

export interface Linear {
  weight: Matrix;
  bias?: F32;
  /** A LoRA adapter being trained (lib/train/lora.ts): the training path adds it; inference runs merged weights. */
  lora?: LoraAdapter;
}

/**
 * y += scale · dropout(x)·Aᵀ·Bᵀ. A [r, in] and B [out, r] are float32; for a part of a fused
 * weight (the vision q/k/v rows of attn.qkv) A is shared and B is a row view of the module's B.
 */
export interface LoraAdapter {
  a: F32;
  b: F32;
  /** alpha / r */
  scale: number;
  /** Returns dropout(x) as a new tensor; called only while a gradient tape records (training). */
  dropout?: (x: F32) => F32;
}

export interface VisionBlockWeights {
  norm1: F32;
  norm2: F32;
  q: Linear; k: Linear; v: Linear;
  proj: Linear;
  gate: Linear; up: Linear; down: Linear;
}

export interface VisionWeights {
  /** Conv3d kernel as a Linear weight [hidden, C·T·P·P] (same memory). */
  patchEmbed: Matrix;
  blocks: VisionBlockWeights[];
  mergerNorm: F32;
  mergerFc1: Linear;
  mergerFc2: Linear;
}

export interface DecoderLayerWeights {
  inputNorm: F32;
  postNorm: F32;
  q: Linear; k: Linear; v: Linear; o: Linear;
  gate: Linear; up: Linear; down: Linear;
}

export interface TextWeights {
  embed: Matrix;
  layers: DecoderLayerWeights[];
  norm: F32;
  /** The embedding matrix itself when tie_word_embeddings is true. */
  lmHead: Matrix;
}

/** Where a tensor used by the towers lives in the checkpoint: a whole tensor, or a slice of one. */
export interface ParamSlice {
  /** The checkpoint (HF) name of the tensor. */
  name: string;
  /** First element of the slice within it (0 for a whole tensor or a reshaped view). */
  offset: number;
}

export interface ModelWeights {
  text: TextWeights;
  vision: VisionWeights;
  /** Every checkpoint tensor by its HF name (as in the checkpoint; tied embeddings once). */
  params: Map<string, Tensor>;
  /**
   * The tensors the towers hold (whole tensors and views: the vision q/k/v rows of the fused
   * qkv weight, the patch kernel as a matrix, a tied lm_head) → where they sit in `params`;
   * what routes a gradient to its parameter.
   */
  slices: Map<Tensor, ParamSlice>;
  scheme: NamingScheme;
  dtype: WeightDType;
  device: Device;
  /** Frees every tensor. */
  dispose(): void;
}

export interface LoadProgress {
  loaded: number;
  total: number;
  name: string;
}

export interface LoadWeightsOptions {
  /** Matrix dtype in memory; default: as stored (float32 or bfloat16). */
  dtype?: WeightDType;
  /** Where the weights live; default 'cpu'. */
  device?: Device;
  /**
   * CPU only: keep the weights as views of the memory-mapped checkpoint (no copy; pages are
   * read on first use and shared with other processes mapping the file). Default false: each
   * weight is copied once into the package's own memory, on 2 MB pages where the kernel has
   * them, which batched decoding reads 30–45% faster than page-cache pages (see docs/model.md).
   */
  mmap?: boolean;
  onProgress?: (p: LoadProgress) => void;
}

/** `model.safetensors.index.json` when the checkpoint is sharded, else `model.safetensors`. */
export function checkpointFile(dir: string): string {
  for (const f of ['model.safetensors.index.json', 'model.safetensors']) {
    const p = join(dir, f);
    if (existsSync(p)) return p;
  }
  throw new Error(`no model.safetensors or model.safetensors.index.json in ${dir}`);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Array.from({ length: n }, make) where each item loads (and copies) a layer's weights, with the
 * event loop let in before each: loading stays responsive in the calling thread.
 */
async function eachLayer<T>(n: number, make: (i: number) => T): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    out.push(make(i));
  }
  return out;
}

export async function loadWeights(dir: string, cfg: ModelConfig, opts: LoadWeightsOptions = {}): Promise<ModelWeights> {
  const file = checkpointFile(dir);
  const source = openSafetensors(file);
  const owned: Tensor[] = [];
  const params = new Map<string, Tensor>();
  const slices = new Map<Tensor, ParamSlice>();
  try {
    const names = source.keys();
    const scheme = detectScheme(names);
    const expected = expectedShapes(cfg);
    const byCanonical = new Map<string, string>();
    for (const name of names) {
      const c = canonicalName(name, scheme);
      if (c === null || !expected.has(c)) throw new Error(`unexpected tensor '${name}' in ${file} (not part of a Qwen2.5-VL model with this config)`);
      byCanonical.set(c, name);
    }
    for (const c of expected.keys()) {
      if (!byCanonical.has(c)) {
        const hint = c === 'lm_head.weight' ? ' (config says tie_word_embeddings: false)' : '';
        throw new Error(`missing tensor for '${c}' in ${file}${hint}`);
      }
    }
    const probe = source.get(byCanonical.get('text.embed_tokens.weight')!);
    const stored = probe.dtype;
    probe.dispose();
    const dtype: WeightDType = opts.dtype ?? (stored === 'bfloat16' ? 'bfloat16' : 'float32');
    const device = opts.device ?? 'cpu';
    let loaded = 0;
    const total = expected.size;

    const fetch = (c: string, want: 'float32' | 'matrix'): Tensor => {
      const name = byCanonical.get(c)!;
      const t = source.get(name);
      const problem = !sameShape(t.shape, expected.get(c)!)
        ? `has shape [${t.shape.join(', ')}], expected [${expected.get(c)!.join(', ')}]`
        : t.dtype !== 'float32' && t.dtype !== 'bfloat16' && t.dtype !== 'float16' ? `has dtype ${t.dtype}; expected a float type` : undefined;
      if (problem) {
        t.dispose();
        throw new Error(`tensor '${name}' in ${file} ${problem}`);
      }
      const target = want === 'float32' ? 'float32' : dtype;
      let out = t;
      if (t.dtype !== target) {
        out = cast(t, target);
        t.dispose();
      } else if (device === 'cpu' && !opts.mmap) {
        out = t.clone();
        t.dispose();
      }
      out = out.moveTo(device);
      owned.push(out);
      params.set(name, out);
      slices.set(out, { name, offset: 0 });
      opts.onProgress?.({ loaded: ++loaded, total, name });
      return out;
    };
    const vec = (c: string) => fetch(c, 'float32') as F32;
    const mat = (c: string) => fetch(c, 'matrix') as Matrix;
    const lin = (c: string, bias: boolean): Linear => ({ weight: mat(`${c}.weight`), bias: bias ? vec(`${c}.bias`) : undefined });

    const t = cfg.text;
    const embed = mat('text.embed_tokens.weight');
    const text: TextWeights = {
      embed,
      layers: await eachLayer(t.numLayers, (i) => {
        const p = `text.layers.${i}`;
        return {
          inputNorm: vec(`${p}.input_layernorm.weight`),
          postNorm: vec(`${p}.post_attention_layernorm.weight`),
          q: lin(`${p}.self_attn.q_proj`, true),
          k: lin(`${p}.self_attn.k_proj`, true),
          v: lin(`${p}.self_attn.v_proj`, true),
          o: lin(`${p}.self_attn.o_proj`, false),
          gate: lin(`${p}.mlp.gate_proj`, false),
          up: lin(`${p}.mlp.up_proj`, false),
          down: lin(`${p}.mlp.down_proj`, false),
        };
      }),
      norm: vec('text.norm.weight'),
      lmHead: t.tieWordEmbeddings ? embed : mat('lm_head.weight'),
    };

    const v = cfg.vision;
    const patch = mat('vision.patch_embed.proj.weight');
    const patchEmbed = patch.reshape([v.hiddenSize, patch.size / v.hiddenSize]);
    owned.push(patchEmbed);
    slices.set(patchEmbed, slices.get(patch)!);
    const vision: VisionWeights = {
      patchEmbed,
      blocks: await eachLayer(v.depth, (i) => {
        const p = `vision.blocks.${i}`;
        const qkv = lin(`${p}.attn.qkv`, true);
        const H = v.hiddenSize;
        // Rows [0,H) are q, [H,2H) k, [2H,3H) v: contiguous row views of the fused weight.
        const part = (j: number): Linear => {
          const weight = qkv.weight.view([H, H], j * H * H);
          const bias = qkv.bias!.view([H], j * H);
          owned.push(weight, bias);
          slices.set(weight, { name: slices.get(qkv.weight)!.name, offset: j * H * H });
          slices.set(bias, { name: slices.get(qkv.bias!)!.name, offset: j * H });
          return { weight, bias };
        };
        return {
          norm1: vec(`${p}.norm1.weight`),
          norm2: vec(`${p}.norm2.weight`),
          q: part(0), k: part(1), v: part(2),
          proj: lin(`${p}.attn.proj`, true),
          gate: lin(`${p}.mlp.gate_proj`, true),
          up: lin(`${p}.mlp.up_proj`, true),
          down: lin(`${p}.mlp.down_proj`, true),
        };
      }),
      mergerNorm: vec('vision.merger.ln_q.weight'),
      mergerFc1: lin('vision.merger.mlp.0', true),
      mergerFc2: lin('vision.merger.mlp.2', true),
    };
    return {
      text, vision, params, slices, scheme, dtype, device,
      dispose() {
        for (const x of owned) x.dispose();
      },
    };
  } catch (e) {
    for (const x of owned) x.dispose();
    throw e;
  } finally {
    source.close();
  }
}
