// The generation engine: admits requests, pre-fills each prompt once, forks it into G sampled
// sequences (the GRPO rollout shape), and runs ONE batched decode step for every active
// sequence of every request (continuous batching), until each stops. It runs where the model
// runs (a worker thread); between steps it yields to the event loop so new requests and
// aborts are seen.
import { StopStringMatcher } from './stop-strings.js';

/** What the engine needs from a model (see lib/infer/model-backend.ts for the real one). */
export interface DecoderBackend<Prompt> {
  readonly vocabSize: number;
  /** Runs the prompt; returns a sequence handle and the logits of its last position. */
  prefill(prompt: Prompt): { seq: number; logits: Float32Array };
  /** Copies a sequence's cache into `n` new sequences (prefix shared by copy). */
  fork(seq: number, n: number): number[];
  /** One token for each sequence; returns logits [seqs.length, vocab]. */
  decode(seqs: number[], tokens: number[]): Float32Array;
  release(seq: number): void;
}

export interface SamplingParams {
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
}

/**
 * Picks one token per row of logits; `history` holds each row's tokens so far (penalties).
 * A row's draw must depend only on (params.seed, sequenceIds[row], step[row]), so a seeded
 * request reproduces whatever else shares its batch.
 */
export type Sampler = (
  logits: Float32Array,
  rows: number,
  params: SamplingParams[],
  history: Int32Array[],
  step: number[],
  sequenceIds: number[],
) => { tokens: Int32Array; logprobs: Float32Array };

export interface StreamDecoder {
  push(id: number): string;
  flush(): string;
}

export interface GenerateRequest<Prompt> {
  prompt: Prompt;
  maxNewTokens: number;
  stopTokenIds: number[];
  /** Generation ends before one of these; they are not in the text (OpenAI's `stop`). */
  stopStrings?: string[];
  /** Generation ends after one of these; they stay in the text (a model's `stop_strings`). */
  keptStopStrings?: string[];
  /** Token ids never to generate (e.g. image placeholders); their logits become -Infinity. */
  suppressTokenIds?: number[];
  sampling?: SamplingParams;
  /** G samples sharing one prefill. */
  numReturnSequences?: number;
  /** Also report the k most likely tokens at each step (raw log-probs; OpenAI's top_logprobs). */
  topLogprobs?: number;
  signal?: AbortSignal;
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface GenerationEvent {
  /** Which of the G sequences. */
  index: number;
  tokenId: number;
  /** Log-probability of the token under the model's raw distribution. */
  logprob: number;
  /** Newly shown text (may be empty while a UTF-8 character or stop string is incomplete). */
  text: string;
  /** The `topLogprobs` most likely tokens of this step, most likely first (when requested). */
  topLogprobs?: { tokenId: number; logprob: number }[];
  /** Set on the sequence's last event. */
  finishReason?: FinishReason;
}

export interface GeneratedSequence {
  tokens: number[];
  logprobs: number[];
  text: string;
  finishReason: FinishReason;
}

interface Active {
  seq: number;
  index: number;
  tokens: number[];
  logprobs: number[];
  text: string;
  decoder: StreamDecoder;
  stops: StopStringMatcher;
  finish?: FinishReason;
  request: Job<any>;
}

interface Job<Prompt> {
  req: GenerateRequest<Prompt>;
  emit(e: GenerationEvent): void;
  resolve(v: GeneratedSequence[]): void;
  reject(e: unknown): void;
  sequences: Active[];
  lastLogits?: Float32Array;
}

export class GenerationEngine<Prompt> {
  private readonly waiting: Job<Prompt>[] = [];
  private readonly active: Active[] = [];
  private running = false;

  constructor(
    private readonly backend: DecoderBackend<Prompt>,
    private readonly sampler: Sampler,
    private readonly makeDecoder: () => StreamDecoder,
  ) {}

  /** Generates for one request; `onEvent` sees every token as it is produced. */
  generate(req: GenerateRequest<Prompt>, onEvent: (e: GenerationEvent) => void = () => {}): Promise<GeneratedSequence[]> {
    const g = req.numReturnSequences ?? 1;
    if (!Number.isInteger(g) || g < 1) return Promise.reject(new RangeError(`numReturnSequences must be a positive integer, got ${g}`));
    if (!Number.isInteger(req.maxNewTokens) || req.maxNewTokens < 0) return Promise.reject(new RangeError(`maxNewTokens must be a non-negative integer, got ${req.maxNewTokens}`));
    if (req.signal?.aborted) return Promise.reject(req.signal.reason ?? new Error('aborted'));
    // Unseeded requests get a fresh seed, so two of them do not draw the same samples.
    const seeded = req.sampling?.seed !== undefined ? req : { ...req, sampling: { ...req.sampling, seed: Math.floor(Math.random() * 2 ** 32) } };
    return new Promise((resolve, reject) => {
      this.waiting.push({ req: seeded, emit: onEvent, resolve, reject, sequences: [] });
      if (!this.running) void this.loop();
    });
  }

  /** Number of sequences decoding now (for tests and metrics). */
  get activeSequences(): number {
    return this.active.length;
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length || this.active.length) {
        // Admit every waiting request: prefill once, fork into G sequences.
        while (this.waiting.length) this.admit(this.waiting.shift()!);
        if (this.active.length) this.step();
        await new Promise((r) => setImmediate(r)); // let messages (new requests, aborts) in
      }
    } finally {
      this.running = false;
    }
  }

  private admit(job: Job<Prompt>): void {
    const g = job.req.numReturnSequences ?? 1;
    let first: { seq: number; logits: Float32Array };
    try {
      first = this.backend.prefill(job.req.prompt);
    } catch (e) {
      job.reject(e);
      return;
    }
    const seqs = g > 1 ? [first.seq, ...this.backend.fork(first.seq, g - 1)] : [first.seq];
    job.lastLogits = first.logits;
    job.sequences = seqs.map((seq, index) => ({
      seq, index, tokens: [], logprobs: [], text: '', request: job,
      decoder: this.makeDecoder(), stops: new StopStringMatcher(job.req.stopStrings ?? [], job.req.keptStopStrings ?? []),
    }));
    if (job.req.maxNewTokens === 0) { this.complete(job); return; }
    // The first token of each sequence comes from the prefill logits (shared by all G).
    const v = this.backend.vocabSize;
    const logits = new Float32Array(g * v);
    for (let i = 0; i < g; i++) logits.set(first.logits.subarray(0, v), i * v);
    this.sampleAndAppend(job.sequences, logits);
    for (const s of job.sequences) if (!s.finish) this.active.push(s);
    if (job.sequences.every((s) => s.finish)) this.complete(job);
  }

  private step(): void {
    // Drop sequences whose request was aborted.
    for (const s of this.active) if (s.request.req.signal?.aborted) s.finish = 'abort';
    this.reap();
    if (!this.active.length) return;
    const batch = [...this.active];
    let logits: Float32Array;
    try {
      logits = this.backend.decode(batch.map((s) => s.seq), batch.map((s) => s.tokens[s.tokens.length - 1]));
    } catch (e) {
      // A failed step fails every request in it; their caches are released.
      this.active.length = 0;
      for (const job of new Set(batch.map((s) => s.request))) {
        for (const s of job.sequences) this.backend.release(s.seq);
        job.reject(e);
      }
      return;
    }
    this.sampleAndAppend(batch, logits);
    this.reap();
  }

  private sampleAndAppend(seqs: Active[], logits: Float32Array): void {
    const v = this.backend.vocabSize;
    seqs.forEach((s, row) => {
      for (const id of s.request.req.suppressTokenIds ?? []) if (id >= 0 && id < v) logits[row * v + id] = -Infinity;
    });
    const tops = seqs.map((s, row) => {
      const k = s.request.req.topLogprobs ?? 0;
      return k > 0 ? topLogprobs(logits.subarray(row * v, (row + 1) * v), k) : undefined;
    });
    const params = seqs.map((s) => s.request.req.sampling ?? {});
    const { tokens, logprobs } = this.sampler(
      logits, seqs.length, params,
      seqs.map((s) => Int32Array.from(s.tokens)),
      seqs.map((s) => s.tokens.length),
      seqs.map((s) => s.index),
    );
    seqs.forEach((s, i) => {
      const id = tokens[i];
      s.tokens.push(id);
      s.logprobs.push(logprobs[i]);
      const req = s.request.req;
      let shown = '';
      if (req.stopTokenIds.includes(id)) {
        s.finish = 'stop';
        shown = s.stops.push(s.decoder.flush()).text + s.stops.flush();
      } else {
        const r = s.stops.push(s.decoder.push(id));
        shown = r.text;
        if (r.stop) s.finish = 'stop';
        else if (s.tokens.length >= req.maxNewTokens) {
          s.finish = 'length';
          shown += s.stops.push(s.decoder.flush()).text + s.stops.flush();
        }
      }
      s.text += shown;
      const event: GenerationEvent = { index: s.index, tokenId: id, logprob: logprobs[i], text: shown };
      if (tops[i]) event.topLogprobs = tops[i];
      if (s.finish) event.finishReason = s.finish;
      s.request.emit(event);
    });
  }

  /** Removes finished sequences; completes requests whose sequences are all finished. */
  private reap(): void {
    for (let i = this.active.length - 1; i >= 0; i--) {
      const s = this.active[i];
      if (!s.finish) continue;
      this.active.splice(i, 1);
      if (s.request.sequences.every((x) => x.finish)) this.complete(s.request);
    }
  }

  private complete(job: Job<Prompt>): void {
    for (const s of job.sequences) this.backend.release(s.seq);
    const aborted = job.sequences.some((s) => s.finish === 'abort');
    if (aborted && job.req.signal?.aborted) {
      job.reject(job.req.signal.reason ?? new Error('aborted'));
      return;
    }
    job.resolve(job.sequences.map((s) => ({
      tokens: s.tokens, logprobs: s.logprobs, text: s.text, finishReason: s.finish ?? 'length',
    })));
  }
}

/** The k largest entries of log_softmax(row), largest first (ties: lower id first). */
export function topLogprobs(row: Float32Array, k: number): { tokenId: number; logprob: number }[] {
  let max = -Infinity;
  for (const x of row) if (x > max) max = x;
  let sum = 0;
  for (const x of row) sum += Math.exp(x - max);
  const logZ = max + Math.log(sum);
  // Keep a small sorted list: O(V·k), and k is at most 20.
  const best: { tokenId: number; logprob: number }[] = [];
  for (let id = 0; id < row.length; id++) {
    const x = row[id];
    if (best.length === k && x <= best[k - 1].logprob) continue;
    let at = best.length;
    while (at > 0 && best[at - 1].logprob < x) at--;
    best.splice(at, 0, { tokenId: id, logprob: x });
    if (best.length > k) best.pop();
  }
  for (const b of best) b.logprob -= logZ;
  return best;
}
