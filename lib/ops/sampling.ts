// Next-token sampling over a batch of logits rows (native op `sample`; semantics and the
// order of processors in docs/sampling.md). Synchronous: about 0.1–1 ms per row at a
// 152k vocabulary, meant to run inside the generation worker, not on a service's event loop.
import { native } from '../native.js';
import { Tensor } from '../tensor.js';

type F32 = Tensor<'float32'>;
/** One value shared by every row, or one per row. */
export type PerRow<T> = T | ArrayLike<T>;

export interface SamplingParams {
  /** Default 1. 0 = greedy argmax (ties go to the lowest id); no random draw. */
  temperature?: PerRow<number>;
  /** Keep the k most likely tokens (ties at the k-th logit are kept, as HF). 0 (default) = off. */
  topK?: PerRow<number>;
  /** Nucleus: keep the smallest top set holding this mass, in (0, 1]. 1 (default) = off. */
  topP?: PerRow<number>;
  /** Keep tokens with probability >= minP × the top probability, in [0, 1]. 0 (default) = off. */
  minP?: PerRow<number>;
  /** HF repetition penalty over prompt and output tokens: logit > 0 ? logit/p : logit·p. 1 = off. */
  repetitionPenalty?: PerRow<number>;
  /** OpenAI presence penalty over output tokens: logit -= p if the token occurred. 0 = off. */
  presencePenalty?: PerRow<number>;
  /** OpenAI frequency penalty over output tokens: logit -= p × occurrences. 0 = off. */
  frequencyPenalty?: PerRow<number>;
  /** Philox key. Default 0. Integers up to 2^64 - 1 (bigint beyond 2^53). */
  seed?: PerRow<number | bigint>;
  /**
   * Stable id of the sequence each row belongs to (default: the row index). Give it when rows
   * move between batches: a draw depends on (seed, sequenceId, step) only.
   */
  sequenceId?: PerRow<number | bigint>;
  /** Decode step of each row's sequence (default 0); advance it by one per generated token. */
  step?: PerRow<number | bigint>;
  /** Per row: prompt token ids (repetition penalty only). */
  promptTokens?: readonly (ArrayLike<number> | null | undefined)[];
  /** Per row: generated token ids (repeats counted) or a map id → count (all three penalties). */
  outputTokens?: readonly (ArrayLike<number> | ReadonlyMap<number, number> | null | undefined)[];
}

export interface SampleResult {
  /** Chosen token ids [rows]. */
  tokens: Tensor<'int32'>;
  /**
   * log p(token) under the distribution actually sampled from: after penalties, temperature,
   * top-k, top-p and min-p, renormalised (0 for greedy rows). What the sampler did.
   */
  logprobs: F32;
  /**
   * log_softmax(logits)[token] of the raw logits as given (temperature 1, no penalties, no
   * filtering): the policy's own log-prob, the one GRPO's importance ratio needs.
   */
  rawLogprobs: F32;
}

const addon = native;

function isArrayLike<T>(v: PerRow<T>): v is ArrayLike<T> {
  return typeof v === 'object' && v !== null && typeof (v as ArrayLike<T>).length === 'number';
}

function floats(v: PerRow<number> | undefined, name: string, rows: number): Float32Array | undefined {
  if (v === undefined) return undefined;
  const a = isArrayLike(v) ? Float32Array.from(v) : new Float32Array([v]);
  if (a.length !== 1 && a.length !== rows) throw new RangeError(`sample: '${name}' has ${a.length} values; give 1 or ${rows} (one per row)`);
  return a;
}

function ints(v: PerRow<number> | undefined, name: string, rows: number): Int32Array | undefined {
  if (v === undefined) return undefined;
  const list = isArrayLike(v) ? Array.from(v) : [v];
  for (const x of list) {
    if (!Number.isInteger(x) || x < 0 || x > 0x7fffffff) throw new RangeError(`sample: '${name}' must hold non-negative integers, got ${x}`);
  }
  if (list.length !== 1 && list.length !== rows) throw new RangeError(`sample: '${name}' has ${list.length} values; give 1 or ${rows} (one per row)`);
  return Int32Array.from(list);
}

function u64s(v: PerRow<number | bigint> | undefined, name: string, rows: number): BigUint64Array | undefined {
  if (v === undefined) return undefined;
  const list = isArrayLike(v) ? Array.from(v) : [v];
  if (list.length !== 1 && list.length !== rows) throw new RangeError(`sample: '${name}' has ${list.length} values; give 1 or ${rows} (one per row)`);
  return BigUint64Array.from(list, (x) => {
    const ok = typeof x === 'bigint' ? x >= 0n && x < 1n << 64n : Number.isSafeInteger(x) && x >= 0;
    if (!ok) throw new RangeError(`sample: '${name}' must hold integers in [0, 2^64), got ${String(x)}`);
    return BigInt(x);
  });
}

/** Builds the CSR penalty history: distinct ids per row with their output counts. */
function history(params: SamplingParams, rows: number, vocab: number) {
  const { promptTokens: prompt, outputTokens: output } = params;
  if (!prompt && !output) return undefined;
  for (const [list, name] of [[prompt, 'promptTokens'], [output, 'outputTokens']] as const) {
    if (list && list.length !== rows) throw new RangeError(`sample: '${name}' has ${list.length} entries; give one per row (${rows})`);
  }
  const offsets = new Int32Array(rows + 1);
  const ids: number[] = [];
  const counts: number[] = [];
  const checkId = (id: number, r: number, name: string) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new RangeError(`sample: '${name}'[${r}] has token id ${id} outside the vocabulary of ${vocab}`);
  };
  for (let r = 0; r < rows; r++) {
    const seen = new Map<number, number>();
    const out = output?.[r];
    if (out instanceof Map) {
      for (const [id, c] of out) {
        checkId(id, r, 'outputTokens');
        if (!Number.isInteger(c) || c < 0) throw new RangeError(`sample: 'outputTokens'[${r}] has count ${c} for token ${id}`);
        seen.set(id, c);
      }
    } else if (out) {
      const list = out as ArrayLike<number>;
      for (let i = 0; i < list.length; i++) {
        const id = list[i];
        checkId(id, r, 'outputTokens');
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
    }
    const pr = prompt?.[r];
    if (pr) {
      for (let i = 0; i < pr.length; i++) {
        checkId(pr[i], r, 'promptTokens');
        if (!seen.has(pr[i])) seen.set(pr[i], 0);
      }
    }
    for (const [id, c] of seen) { ids.push(id); counts.push(c); }
    offsets[r + 1] = ids.length;
  }
  return { historyOffsets: offsets, historyIds: Int32Array.from(ids), historyCounts: Int32Array.from(counts) };
}

/**
 * Samples one token per row of `logits` [rows, vocab] float32. Throws naming the row when a row
 * holds NaN or +Infinity or has every token masked (-Infinity), and naming the field for an
 * invalid parameter. The caller disposes the three result tensors.
 */
export function sample(logits: F32, params: SamplingParams = {}): SampleResult {
  if (logits.shape.length !== 2) throw new RangeError(`sample: 'logits' must be [rows, vocab], got [${logits.shape.join(', ')}]`);
  const [rows, vocab] = logits.shape;
  const p = {
    temperature: floats(params.temperature, 'temperature', rows),
    topK: ints(params.topK, 'topK', rows),
    topP: floats(params.topP, 'topP', rows),
    minP: floats(params.minP, 'minP', rows),
    repetitionPenalty: floats(params.repetitionPenalty, 'repetitionPenalty', rows),
    presencePenalty: floats(params.presencePenalty, 'presencePenalty', rows),
    frequencyPenalty: floats(params.frequencyPenalty, 'frequencyPenalty', rows),
    seed: u64s(params.seed, 'seed', rows),
    stream: u64s(params.sequenceId, 'sequenceId', rows),
    step: u64s(params.step, 'step', rows),
    ...history(params, rows, vocab),
  };
  const tokens = Tensor.empty([rows], { dtype: 'int32', device: logits.device });
  const logprobs = Tensor.empty([rows], { dtype: 'float32', device: logits.device });
  const rawLogprobs = Tensor.empty([rows], { dtype: 'float32', device: logits.device });
  try {
    addon().sample(logits.handle, tokens.handle, logprobs.handle, rawLogprobs.handle, p);
  } catch (e) {
    tokens.dispose(); logprobs.dispose(); rawLogprobs.dispose();
    throw e;
  }
  return { tokens, logprobs, rawLogprobs };
}

/** The raw Philox4x32-10 block for (counter[4], key[2]): exposed for known-answer tests. */
export function philox4x32(counter: ArrayLike<number>, key: ArrayLike<number>): Uint32Array {
  return addon().philox4x32(Uint32Array.from(counter), Uint32Array.from(key));
}
