// Text generation for a model in this thread: `createGenerator(model, tokenizer)` gives
// `generate(inputs, options)`, an async iterator of streamed chunks whose `return` value is
// the finished sequences. Several concurrent `generate` calls share decode steps (continuous
// batching); `numReturnSequences: G` samples G completions from one prefill.
// For services, run this inside a worker (lib/infer/server.ts) so the event loop stays free.
import { Model as ModelClass, type Model } from '../model/model.js';
import { Tokenizer } from '../processing/tokenizer.js';
import type { ModelInputs } from '../model/inputs.js';
import { GenerationEngine, type GeneratedSequence, type GenerationEvent, type SamplingParams } from './engine.js';
import { ModelBackend, nativeSampler } from './model-backend.js';
import { pushIterator } from './push-iterator.js';

export interface TokenizerLike {
  createStreamDecoder(): { push(id: number): string; flush(): string };
  tokenToId(token: string): number | undefined;
}

export interface GenerateOptions extends SamplingParams {
  maxNewTokens?: number;
  /** Extra stop token ids (EOS and <|im_end|> are always included). */
  stopTokenIds?: number[];
  /**
   * Generation ends before one of these, which the text leaves out. The model's own
   * generation_config `stop_strings` always apply too, and stay in the text (as in transformers).
   */
  stopStrings?: string[];
  numReturnSequences?: number;
  /** Report the k most likely tokens at each step with their raw log-probs (0–20). */
  topLogprobs?: number;
  signal?: AbortSignal;
}

export type GenerationChunk = GenerationEvent;

export interface Generator {
  generate(inputs: ModelInputs, options?: GenerateOptions): AsyncGenerator<GenerationChunk, GeneratedSequence[]>;
}

/**
 * The generator of `model` for this thread, made on first use, so every caller (askImage,
 * model.generate) shares one engine and their decode steps batch together.
 */
const generators = new WeakMap<Model, Generator>();
export function generatorFor(model: Model, tokenizer: TokenizerLike): Generator {
  let g = generators.get(model);
  if (!g) { g = createGenerator(model, tokenizer); generators.set(model, g); }
  return g;
}

export interface ModelGenerateOptions extends GenerateOptions {
  /** Decodes the stream; default: the tokenizer.json of the folder the model was loaded from. */
  tokenizer?: TokenizerLike;
}

declare module '../model/model.js' {
  interface Model {
    /**
     * Generation with the KV cache, streamed: an async iterator of chunks (text never splits a
     * UTF-8 character; token id and log-prob each), returning the finished sequences.
     * Concurrent calls on one model decode together. Runs in this thread: services should
     * use startModelServer (a worker).
     */
    generate(inputs: ModelInputs, options?: ModelGenerateOptions): AsyncGenerator<GenerationChunk, GeneratedSequence[]>;
  }
}

const tokenizers = new WeakMap<Model, TokenizerLike>();
ModelClass.prototype.generate = function generate(this: Model, inputs: ModelInputs, options: ModelGenerateOptions = {}) {
  const { tokenizer, ...rest } = options;
  let tok = tokenizer;
  if (!tok) {
    if (!this.dir) throw new Error('model.generate: this model was not loaded from a folder; pass options.tokenizer');
    tok = tokenizers.get(this) ?? Tokenizer.fromDir(this.dir);
    tokenizers.set(this, tok);
  }
  return generatorFor(this, tok).generate(inputs, rest);
};

export function createGenerator(model: Model, tokenizer: TokenizerLike): Generator {
  const engine = new GenerationEngine<ModelInputs>(new ModelBackend(model), nativeSampler, () => tokenizer.createStreamDecoder());
  const defaultStops = [...new Set([
    ...model.config.tokens.eos,
    tokenizer.tokenToId('<|im_end|>'),
    tokenizer.tokenToId('<|endoftext|>'),
  ].filter((x): x is number => typeof x === 'number'))];
  // Vision placeholders only ever come from the processor, never from the model.
  const t = model.config.tokens;
  const placeholders = [t.image, t.video, t.visionStart, t.visionEnd];
  return {
    generate(inputs, options = {}) {
      return pushIterator<GenerationChunk, GeneratedSequence[]>((emit) => engine.generate({
        prompt: inputs,
        maxNewTokens: options.maxNewTokens ?? 512,
        stopTokenIds: [...defaultStops, ...(options.stopTokenIds ?? [])],
        stopStrings: options.stopStrings,
        keptStopStrings: model.config.stopStrings,
        suppressTokenIds: placeholders,
        numReturnSequences: options.numReturnSequences,
        topLogprobs: options.topLogprobs,
        signal: options.signal,
        sampling: options,
      }, emit));
    },
  };
}
