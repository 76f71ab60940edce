// Maps Hugging Face tensor names of both checkpoint schemes onto one canonical name set, and
// lists the tensors (with shapes) a config requires:
//   transformers <= 4.51: model.embed_tokens.*, model.layers.N.*, model.norm.*, visual.*, lm_head.weight
//   newer:                model.language_model.*, model.visual.*, lm_head.weight
// Canonical names: `text.<rest>` for the decoder, `vision.<rest>` for the tower, `lm_head.weight`.
import type { ModelConfig } from './config.js';

export type NamingScheme = 'flat' | 'nested';

const PREFIXES: Record<NamingScheme, [string, string][]> = {
  flat: [['model.', 'text.'], ['visual.', 'vision.']],
  nested: [['model.language_model.', 'text.'], ['model.visual.', 'vision.']],
};

/** Decides the scheme from the names present. */
export function detectScheme(names: readonly string[]): NamingScheme {
  return names.some((n) => n.startsWith('model.language_model.') || n.startsWith('model.visual.')) ? 'nested' : 'flat';
}

/** Canonical name of a checkpoint tensor name, or null when it belongs to neither tower. */
export function canonicalName(name: string, scheme: NamingScheme): string | null {
  if (name === 'lm_head.weight') return name;
  for (const [from, to] of PREFIXES[scheme]) if (name.startsWith(from)) return to + name.slice(from.length);
  return null;
}

/** The checkpoint name of a canonical name in a scheme (inverse of canonicalName). */
export function checkpointName(canonical: string, scheme: NamingScheme): string {
  if (canonical === 'lm_head.weight') return canonical;
  for (const [from, to] of PREFIXES[scheme]) if (canonical.startsWith(to)) return from + canonical.slice(to.length);
  throw new Error(`not a canonical weight name: ${canonical}`);
}

/** Every tensor the model needs, canonical name → shape. `lm_head.weight` only when untied. */
export function expectedShapes(cfg: ModelConfig): Map<string, number[]> {
  const t = cfg.text, v = cfg.vision;
  const s = new Map<string, number[]>();
  const linear = (name: string, out: number, inp: number, bias: boolean) => {
    s.set(`${name}.weight`, [out, inp]);
    if (bias) s.set(`${name}.bias`, [out]);
  };
  s.set('text.embed_tokens.weight', [t.vocabSize, t.hiddenSize]);
  for (let i = 0; i < t.numLayers; i++) {
    const p = `text.layers.${i}`;
    s.set(`${p}.input_layernorm.weight`, [t.hiddenSize]);
    s.set(`${p}.post_attention_layernorm.weight`, [t.hiddenSize]);
    linear(`${p}.self_attn.q_proj`, t.numHeads * t.headDim, t.hiddenSize, true);
    linear(`${p}.self_attn.k_proj`, t.numKvHeads * t.headDim, t.hiddenSize, true);
    linear(`${p}.self_attn.v_proj`, t.numKvHeads * t.headDim, t.hiddenSize, true);
    linear(`${p}.self_attn.o_proj`, t.hiddenSize, t.numHeads * t.headDim, false);
    linear(`${p}.mlp.gate_proj`, t.intermediateSize, t.hiddenSize, false);
    linear(`${p}.mlp.up_proj`, t.intermediateSize, t.hiddenSize, false);
    linear(`${p}.mlp.down_proj`, t.hiddenSize, t.intermediateSize, false);
  }
  s.set('text.norm.weight', [t.hiddenSize]);
  if (!t.tieWordEmbeddings) s.set('lm_head.weight', [t.vocabSize, t.hiddenSize]);

  s.set('vision.patch_embed.proj.weight', [v.hiddenSize, v.inChannels, v.temporalPatchSize, v.patchSize, v.patchSize]);
  for (let i = 0; i < v.depth; i++) {
    const p = `vision.blocks.${i}`;
    s.set(`${p}.norm1.weight`, [v.hiddenSize]);
    s.set(`${p}.norm2.weight`, [v.hiddenSize]);
    linear(`${p}.attn.qkv`, 3 * v.hiddenSize, v.hiddenSize, true);
    linear(`${p}.attn.proj`, v.hiddenSize, v.hiddenSize, true);
    linear(`${p}.mlp.gate_proj`, v.intermediateSize, v.hiddenSize, true);
    linear(`${p}.mlp.up_proj`, v.intermediateSize, v.hiddenSize, true);
    linear(`${p}.mlp.down_proj`, v.hiddenSize, v.intermediateSize, true);
  }
  const merged = v.hiddenSize * v.spatialMergeSize * v.spatialMergeSize;
  s.set('vision.merger.ln_q.weight', [v.hiddenSize]);
  linear('vision.merger.mlp.0', merged, merged, true);
  linear('vision.merger.mlp.2', v.outHiddenSize, merged, true);
  return s;
}
