// GRPO's stages, each with typed inputs and outputs so that any one can run elsewhere:
//   1. rollouts   prompts → G completions each (token ids, text; sampler log-probs optional)
//                 from the local engine (G samples share one prefill) or any OpenAI-compatible
//                 server (rollout-openai.ts);
//   2. rewards    completions + records → one score per reward function (plus their weights);
//   3. reference  prompts + completions → reference log-probs (a frozen copy of the policy);
//   4. update     the above + advantages → policy gradients (grpo-loop.ts).
// What crosses a stage boundary is plain data (numbers, token ids, strings), never tensors.
import type { ChatMessage } from '../processing/chat-template.js';
import type { ModelInputs } from '../model/inputs.js';
import type { Model } from '../model/model.js';
import { createGenerator, type TokenizerLike } from '../infer/generate.js';
import { scoreRewards, type WeightedRewardFunction } from './reward-functions.js';
import { completionLogprobs } from './sft.js';

/** One prompt to roll out: model inputs for a local engine, chat messages for a remote server. */
export interface RolloutPrompt {
  inputs: ModelInputs;
  messages: ChatMessage[];
}

export interface RolloutOptions {
  /** Completions per prompt (G). */
  numGenerations: number;
  temperature: number;
  topP?: number;
  maxCompletionLength: number;
  /** Generation stops after these strings (e.g. '</answer>'). */
  stopStrings?: string[];
  /** Seed of this prompt's draws (so a step is reproducible and a resume exact). */
  seed: number;
}

export interface Rollout {
  /** Generated token ids (the stop token included when one ended it). */
  completionIds: Int32Array;
  text: string;
  finishReason: 'stop' | 'length' | 'abort';
  /** The sampler's log-prob of each token (temperature 1, unfiltered), when the source gives them. */
  samplerLogprobs?: Float32Array;
}

/** Stage 1: a source of completions. */
export interface RolloutSource {
  /** G completions of one prompt. */
  generate(prompt: RolloutPrompt, opts: RolloutOptions): Promise<Rollout[]>;
  close?(): Promise<void>;
}

/** The package's own engine on the policy model (in this thread): G samples share one prefill. */
export function engineRolloutSource(model: Model, tokenizer: TokenizerLike): RolloutSource {
  const generator = createGenerator(model, tokenizer);
  return {
    async generate(prompt, opts) {
      const it = generator.generate(prompt.inputs, {
        numReturnSequences: opts.numGenerations, temperature: opts.temperature, topP: opts.topP,
        maxNewTokens: opts.maxCompletionLength, stopStrings: opts.stopStrings, seed: opts.seed,
      });
      let r = await it.next();
      while (!r.done) r = await it.next();
      return r.value.map((s) => ({
        completionIds: Int32Array.from(s.tokens), text: s.text, finishReason: s.finishReason, samplerLogprobs: Float32Array.from(s.logprobs),
      }));
    },
  };
}

/** Stage 2: rewards [B][K] (one column per function) for completions of their records. */
export async function scoreCompletions<R>(functions: readonly WeightedRewardFunction<R>[], items: { prompt: string; completion: string; record: R }[]): Promise<{ perFunction: number[][]; weights: number[] }> {
  const scores = await scoreRewards(functions, items);
  return { perFunction: items.map((_, b) => functions.map((_, k) => scores.perFunction[k][b])), weights: functions.map((f) => f.weight) };
}

/** Stage 3 (and the old policy's log-probs): log p of each completion token at temperature τ, no gradient. */
export function referenceLogprobs(model: Model, batch: { inputs: ModelInputs; completionIds: Int32Array }[], temperature: number): Float32Array[] {
  using out = completionLogprobs(model, batch.map((b) => ({ ...b.inputs, completionIds: b.completionIds })), { temperature });
  const all = out.logp.toArray();
  const rows: Float32Array[] = [];
  let at = 0;
  for (const n of out.lengths) rows.push(all.slice(at, (at += n)));
  return rows;
}
