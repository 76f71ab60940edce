// Parses the Hugging Face `config.json` of Qwen2_5_VLForConditionalGeneration into one typed
// structure. Two layouts exist: transformers <= 4.51 writes the text fields at the top level
// (with `vision_config` nested); newer versions nest them in `text_config`. Every value comes
// from the files; a missing required field or a wrong type is an Error naming field and file.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TextConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Split of the head_dim/2 rotary frequencies over the (t, h, w) position rows. */
  mropeSection: number[];
  tieWordEmbeddings: boolean;
  /** transformers 4.50 masks with this whenever it is non-null (matters beyond this length). */
  slidingWindow: number | null;
  useSlidingWindow: boolean;
}

export interface VisionConfig {
  depth: number;
  hiddenSize: number;
  numHeads: number;
  headDim: number;
  intermediateSize: number;
  inChannels: number;
  patchSize: number;
  temporalPatchSize: number;
  spatialMergeSize: number;
  windowSize: number;
  fullattBlockIndexes: number[];
  outHiddenSize: number;
  tokensPerSecond: number;
}

export interface TokenIds {
  image: number;
  video: number;
  visionStart: number;
  visionEnd: number;
  bos: number | null;
  /** From generation_config.json when present (may list several), else config.json. */
  eos: number[];
}

export interface ModelConfig {
  text: TextConfig;
  vision: VisionConfig;
  tokens: TokenIds;
  /** The checkpoint's stored dtype (`torch_dtype` / `dtype`), if the file says. */
  torchDtype: string | null;
  /**
   * generation_config.json's `stop_strings` (transformers' GenerationConfig): generation ends once
   * one of them is produced, and it stays in the text. A GRPO-trained model whose rollouts stopped
   * at `</answer>` says so here.
   */
  stopStrings: string[];
  layout: 'flat' | 'nested';
}

type Json = Record<string, unknown>;

/** Reads fields of one JSON object, naming the file and the field path in every error. */
class FieldReader {
  constructor(private readonly obj: Json, private readonly file: string, private readonly path: string) {}

  private where(name: string): string {
    return `'${this.path}${name}' in ${this.file}`;
  }

  has(name: string): boolean {
    return this.obj[name] !== undefined && this.obj[name] !== null;
  }

  raw(name: string): unknown {
    return this.obj[name];
  }

  int(name: string, opts: { min?: number; fallback?: number } = {}): number {
    const v = this.obj[name] ?? opts.fallback;
    if (v === undefined || v === null) throw new Error(`missing required field ${this.where(name)}`);
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${this.where(name)} must be an integer, got ${JSON.stringify(v)}`);
    const min = opts.min ?? 0;
    if (v < min) throw new RangeError(`${this.where(name)} must be >= ${min}, got ${v}`);
    return v;
  }

  positive(name: string, opts: { fallback?: number } = {}): number {
    const v = this.obj[name] ?? opts.fallback;
    if (v === undefined || v === null) throw new Error(`missing required field ${this.where(name)}`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new TypeError(`${this.where(name)} must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.obj[name] ?? fallback;
    if (typeof v !== 'boolean') throw new TypeError(`${this.where(name)} must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  intList(name: string): number[] {
    const v = this.obj[name];
    if (v === undefined || v === null) throw new Error(`missing required field ${this.where(name)}`);
    if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0)) {
      throw new TypeError(`${this.where(name)} must be a list of non-negative integers, got ${JSON.stringify(v)}`);
    }
    return v as number[];
  }

  str(name: string, fallback?: string): string {
    const v = this.obj[name] ?? fallback;
    if (v === undefined || v === null) throw new Error(`missing required field ${this.where(name)}`);
    if (typeof v !== 'string') throw new TypeError(`${this.where(name)} must be a string, got ${JSON.stringify(v)}`);
    return v;
  }

  child(name: string): FieldReader {
    const v = this.obj[name];
    if (v === undefined || v === null) throw new Error(`missing required field ${this.where(name)}`);
    if (typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${this.where(name)} must be an object`);
    return new FieldReader(v as Json, this.file, `${this.path}${name}.`);
  }
}

/** Reads a field from the first reader that has it (nested text_config first, then top level). */
function firstWith(readers: FieldReader[], name: string): FieldReader {
  return readers.find((r) => r.has(name)) ?? readers[readers.length - 1];
}

function requireSilu(r: FieldReader, name: string): void {
  const act = r.str(name, 'silu');
  if (act !== 'silu') throw new Error(`${name} '${act}' is not supported (only 'silu' is), in the config`);
}

/**
 * `mrope_section` from `rope_scaling` (spelled `{type: "mrope"}` on the hub, `{rope_type:
 * "default"}` once saved by transformers) or, in transformers 5, from `rope_parameters`.
 */
function parseMropeSection(readers: FieldReader[], headDim: number, file: string): number[] {
  const field = readers.some((r) => r.has('rope_scaling')) ? 'rope_scaling' : 'rope_parameters';
  const rs = firstWith(readers, field).child(field);
  const kind = rs.has('rope_type') ? rs.raw('rope_type') : rs.raw('type');
  if (kind !== undefined && kind !== 'mrope' && kind !== 'default') {
    throw new Error(`${field} type '${String(kind)}' in ${file} is not supported (expected 'mrope' or 'default' with mrope_section)`);
  }
  const section = rs.intList('mrope_section');
  const sum = section.reduce((a, b) => a + b, 0);
  if (section.length !== 3 || sum !== headDim / 2) {
    throw new Error(`${field}.mrope_section ${JSON.stringify(section)} in ${file} must have 3 entries summing to head_dim/2 = ${headDim / 2}`);
  }
  return section;
}

/** `rope_theta` at the usual place, or inside transformers 5's `rope_parameters`. */
function parseRopeTheta(readers: FieldReader[]): number {
  const direct = readers.find((r) => r.has('rope_theta'));
  if (direct || !readers.some((r) => r.has('rope_parameters'))) return firstWith(readers, 'rope_theta').positive('rope_theta');
  return firstWith(readers, 'rope_parameters').child('rope_parameters').positive('rope_theta');
}

function parseText(readers: FieldReader[], file: string): TextConfig {
  const get = (name: string) => firstWith(readers, name);
  const hiddenSize = get('hidden_size').int('hidden_size', { min: 1 });
  const numHeads = get('num_attention_heads').int('num_attention_heads', { min: 1 });
  const numKvHeads = get('num_key_value_heads').int('num_key_value_heads', { min: 1 });
  if (hiddenSize % numHeads !== 0) throw new Error(`hidden_size ${hiddenSize} in ${file} is not divisible by num_attention_heads ${numHeads}`);
  if (numHeads % numKvHeads !== 0) throw new Error(`num_attention_heads ${numHeads} in ${file} is not divisible by num_key_value_heads ${numKvHeads}`);
  const headDim = hiddenSize / numHeads;
  requireSilu(get('hidden_act'), 'hidden_act');
  const sw = get('sliding_window');
  return {
    vocabSize: get('vocab_size').int('vocab_size', { min: 1 }),
    hiddenSize,
    intermediateSize: get('intermediate_size').int('intermediate_size', { min: 1 }),
    numLayers: get('num_hidden_layers').int('num_hidden_layers', { min: 1 }),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: get('rms_norm_eps').positive('rms_norm_eps'),
    ropeTheta: parseRopeTheta(readers),
    mropeSection: parseMropeSection(readers, headDim, file),
    // tie_word_embeddings usually sits at the top level; HF's default is false.
    tieWordEmbeddings: firstWith([...readers].reverse(), 'tie_word_embeddings').bool('tie_word_embeddings', false),
    slidingWindow: sw.has('sliding_window') ? sw.int('sliding_window', { min: 1 }) : null,
    useSlidingWindow: get('use_sliding_window').bool('use_sliding_window', false),
  };
}

function parseVision(v: FieldReader, file: string): VisionConfig {
  const hiddenSize = v.int('hidden_size', { min: 1 });
  const numHeads = v.int('num_heads', { min: 1 });
  if (hiddenSize % numHeads !== 0) throw new Error(`vision_config.hidden_size ${hiddenSize} in ${file} is not divisible by vision_config.num_heads ${numHeads}`);
  requireSilu(v, 'hidden_act');
  const depth = v.int('depth', { min: 1 });
  const fullatt = v.intList('fullatt_block_indexes');
  const bad = fullatt.find((i) => i >= depth);
  if (bad !== undefined) throw new RangeError(`vision_config.fullatt_block_indexes entry ${bad} in ${file} is not below depth ${depth}`);
  const patchSize = v.int('patch_size', { min: 1 });
  const spatialMergeSize = v.int('spatial_merge_size', { min: 1 });
  const windowSize = v.int('window_size', { min: 1 });
  if (windowSize % (patchSize * spatialMergeSize) !== 0) {
    throw new Error(`vision_config.window_size ${windowSize} in ${file} is not a multiple of patch_size x spatial_merge_size = ${patchSize * spatialMergeSize}`);
  }
  return {
    depth,
    hiddenSize,
    numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: v.int('intermediate_size', { min: 1 }),
    // Published checkpoints spell it `in_chans`; transformers' own config class `in_channels`.
    inChannels: v.has('in_channels') ? v.int('in_channels', { min: 1 }) : v.int('in_chans', { min: 1, fallback: 3 }),
    patchSize,
    temporalPatchSize: v.int('temporal_patch_size', { min: 1 }),
    spatialMergeSize,
    windowSize,
    fullattBlockIndexes: fullatt,
    outHiddenSize: v.int('out_hidden_size', { min: 1 }),
    tokensPerSecond: v.positive('tokens_per_second', { fallback: 2 }),
  };
}

function parseEos(top: FieldReader[], generation: Json | null, genFile: string): number[] {
  const fromGen = generation?.eos_token_id;
  const raw = fromGen ?? firstWith(top, 'eos_token_id').raw('eos_token_id');
  const where = fromGen !== undefined ? genFile : 'the config';
  const list = Array.isArray(raw) ? raw : raw === undefined || raw === null ? [] : [raw];
  if (!list.every((x) => Number.isInteger(x) && x >= 0)) throw new TypeError(`eos_token_id in ${where} must be an integer or a list of integers, got ${JSON.stringify(raw)}`);
  return list as number[];
}

/**
 * Builds a ModelConfig from parsed `config.json` (and `generation_config.json`, if any).
 * `file` / `generationFile` only name the sources in error messages.
 */
export function parseConfig(
  json: unknown,
  opts: { file?: string; generation?: unknown; generationFile?: string } = {},
): ModelConfig {
  const file = opts.file ?? 'config.json';
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TypeError(`${file} must hold a JSON object`);
  const top = new FieldReader(json as Json, file, '');
  const nested = top.has('text_config');
  const textReaders = nested ? [top.child('text_config'), top] : [top];
  const text = parseText(textReaders, file);
  const vision = parseVision(top.child('vision_config'), file);
  if (vision.outHiddenSize !== text.hiddenSize) {
    throw new Error(`vision_config.out_hidden_size ${vision.outHiddenSize} in ${file} must equal the text hidden_size ${text.hiddenSize}`);
  }
  // Token ids live at the top level in both layouts; fall back to text_config just in case.
  const ids = [top, ...(nested ? [textReaders[0]] : [])];
  const tokenId = (name: string) => firstWith(ids, name).int(name);
  const generation = (opts.generation ?? null) as Json | null;
  const bosReader = firstWith(ids, 'bos_token_id');
  const tokens: TokenIds = {
    image: tokenId('image_token_id'),
    video: tokenId('video_token_id'),
    visionStart: tokenId('vision_start_token_id'),
    visionEnd: tokenId('vision_end_token_id'),
    bos: bosReader.has('bos_token_id') ? bosReader.int('bos_token_id') : null,
    eos: parseEos(ids, generation, opts.generationFile ?? 'generation_config.json'),
  };
  for (const [name, id] of Object.entries(tokens)) {
    if (typeof id === 'number' && id >= text.vocabSize) throw new RangeError(`${name} token id ${id} in ${file} is outside the vocabulary (vocab_size ${text.vocabSize})`);
  }
  const dtypeReader = firstWith(textReaders, 'torch_dtype');
  const torchDtype = dtypeReader.has('torch_dtype') ? dtypeReader.str('torch_dtype')
    : top.has('dtype') ? top.str('dtype') : null;
  const stopStrings = parseStopStrings(generation, opts.generationFile ?? 'generation_config.json');
  return { text, vision, tokens, torchDtype, stopStrings, layout: nested ? 'nested' : 'flat' };
}

/** `stop_strings`: a string or a list of non-empty strings (absent: none). */
function parseStopStrings(generation: Json | null, file: string): string[] {
  const raw = generation?.stop_strings;
  if (raw === undefined || raw === null) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  if (!list.every((x) => typeof x === 'string' && x.length > 0)) {
    throw new TypeError(`stop_strings in ${file} must be a non-empty string or a list of them, got ${JSON.stringify(raw)}`);
  }
  return list as string[];
}

async function readJsonFile(path: string, optional: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (optional && (e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Reads `config.json` and (optional) `generation_config.json` from a model folder. */
export async function readConfig(dir: string): Promise<ModelConfig> {
  const file = join(dir, 'config.json');
  const generationFile = join(dir, 'generation_config.json');
  const [json, generation] = await Promise.all([readJsonFile(file, false), readJsonFile(generationFile, true)]);
  return parseConfig(json, { file, generation, generationFile });
}
