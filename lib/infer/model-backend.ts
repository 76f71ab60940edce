// Connects the generation engine to a loaded model and the native sampler: sequences are
// model sessions (each with its KV cache), decode steps of all active sequences run as one
// batched forward (`model.decodeBatch`), and tokens are drawn by the `sample` op.
import type { Model, Session } from '../model/model.js';
import type { ModelInputs } from '../model/inputs.js';
import { sample } from '../ops/sampling.js';
import { Tensor, disposeAll } from '../tensor.js';
import type { DecoderBackend, Sampler } from './engine.js';

export class ModelBackend implements DecoderBackend<ModelInputs> {
  private readonly sessions = new Map<number, Session>();
  private nextSeq = 1;

  constructor(private readonly model: Model) {}

  get vocabSize(): number {
    return this.model.config.text.vocabSize;
  }

  prefill(prompt: ModelInputs): { seq: number; logits: Float32Array } {
    const session = this.model.createSession({ capacity: prompt.inputIds.length + 256 });
    try {
      const logits = session.prefillSync(prompt);
      const seq = this.nextSeq++;
      this.sessions.set(seq, session);
      return { seq, logits };
    } catch (e) {
      session.dispose();
      throw e;
    }
  }

  fork(seq: number, n: number): number[] {
    const src = this.get(seq);
    return Array.from({ length: n }, () => {
      const copy = src.fork();
      const id = this.nextSeq++;
      this.sessions.set(id, copy);
      return id;
    });
  }

  decode(seqs: number[], tokens: number[]): Float32Array {
    return this.model.decodeBatch(seqs.map((s) => this.get(s)), tokens);
  }

  release(seq: number): void {
    this.sessions.get(seq)?.dispose();
    this.sessions.delete(seq);
  }

  private get(seq: number): Session {
    const s = this.sessions.get(seq);
    if (!s) throw new Error(`unknown sequence ${seq}`);
    return s;
  }
}

/**
 * The engine's sampler on the native `sample` op. Each row's draw depends only on (seed,
 * sequence index, step), so a seed reproduces a run whatever else is in the batch. The log-prob
 * returned is the raw policy log-prob (what GRPO needs), not the filtered one.
 */
export const nativeSampler: Sampler = (logits, rows, params, history, step, sequenceIds) => {
  const vocab = logits.length / rows;
  const x = Tensor.from<'float32'>(logits, [rows, vocab], { copy: false });
  const pick = <K extends keyof (typeof params)[number]>(k: K, d: number) => params.map((p) => (p[k] as number | undefined) ?? d);
  const r = sample(x, {
    temperature: pick('temperature', 1),
    topK: pick('topK', 0),
    topP: pick('topP', 1),
    minP: pick('minP', 0),
    repetitionPenalty: pick('repetitionPenalty', 1),
    presencePenalty: pick('presencePenalty', 0),
    frequencyPenalty: pick('frequencyPenalty', 0),
    seed: pick('seed', 0),
    sequenceId: sequenceIds,
    step,
    outputTokens: history,
  });
  try {
    return { tokens: r.tokens.toArray(), logprobs: r.rawLogprobs.toArray() };
  } finally {
    disposeAll(x, r.tokens, r.logprobs, r.rawLogprobs);
  }
};
