// One question about one image: build the reasoning prompt, preprocess, generate with
// streaming, parse <think>/<answer>. Used in-process (`askImage`) and inside the model worker
// (lib/infer/server.ts), so both behave the same.
import type { Model } from '../model/model.js';
import { messagesForQuestion, type McQuestion, type PromptTemplate } from '../processing/prompt.js';
import type { Processor } from '../processing/processor.js';
import type { ImageInput } from '../processing/image-decode.js';
import { parseAnswer } from './answer.js';
import { checkTokenizerMatchesModel } from './tokenizer-check.js';
import type { FinishReason } from './engine.js';
import { generatorFor, type GenerateOptions, type Generator } from './generate.js';

export interface AskRequest extends McQuestion {
  image: ImageInput;
  system?: string;
  template?: PromptTemplate;
  generation?: Omit<GenerateOptions, 'signal'>;
  signal?: AbortSignal;
  /** Upscale images smaller than the model's minimum side (default true; false refuses them). */
  upscaleSmallImages?: boolean;
  /** Each piece of streamed text of the first sample as it is generated. */
  onToken?: (text: string, tokenId: number) => void;
}

export interface AskSample {
  text: string;
  letter: string | null;
  formatOk: boolean;
  tokens: number[];
  /** 'stop' (end token or stop string) or 'length' (max tokens reached). */
  finishReason: FinishReason;
}

export interface AskResult {
  /** Every sample when `generation.numReturnSequences` > 1 (the fields below are the first's). */
  samples: AskSample[];
  /** The whole generated text. */
  text: string;
  reasoning: string | null;
  answer: string | null;
  letter: string | null;
  formatOk: boolean;
  tokens: number[];
  finishReason: FinishReason;
  timings: { preprocessMs: number; firstTokenMs: number; generateMs: number; totalMs: number; tokensPerSecond: number };
}

export async function ask(generator: Generator, processor: Processor, req: AskRequest): Promise<AskResult> {
  const t0 = performance.now();
  const messages = messagesForQuestion(req);
  // Real small medical images (RT dose grids, secondary captures) are upscaled, with a warning.
  const inputs = await processor.apply({ messages, addGenerationPrompt: true, upscaleSmallImages: req.upscaleSmallImages ?? true });
  const t1 = performance.now();
  let firstToken = 0;
  const it = generator.generate(inputs, { maxNewTokens: 1024, ...req.generation, signal: req.signal });
  let r = await it.next();
  while (!r.done) {
    if (!firstToken) firstToken = performance.now();
    if (r.value.index === 0) req.onToken?.(r.value.text, r.value.tokenId);
    r = await it.next();
  }
  const [seq] = r.value;
  const t2 = performance.now();
  const parsed = parseAnswer(seq.text, { options: req.options });
  const samples = r.value.map((x) => {
    const p = parseAnswer(x.text, { options: req.options });
    return { text: x.text, letter: p.letter, formatOk: p.formatOk, tokens: x.tokens, finishReason: x.finishReason };
  });
  return {
    samples,
    text: seq.text,
    ...parsed,
    tokens: seq.tokens,
    finishReason: seq.finishReason,
    timings: {
      preprocessMs: t1 - t0,
      firstTokenMs: (firstToken || t2) - t1,
      generateMs: t2 - t1,
      totalMs: t2 - t0,
      tokensPerSecond: seq.tokens.length / Math.max((t2 - t1) / 1000, 1e-9),
    },
  };
}

/**
 * Asks a multiple-choice question about an image and returns the model's reasoning and
 * answer. Runs in this thread: for services use `startModelServer` (a worker) instead.
 */
export async function askImage(model: Model, processor: Processor, req: AskRequest): Promise<AskResult> {
  checkTokenizerMatchesModel(model, processor);
  return ask(generatorFor(model, processor.tokenizer), processor, req);
}
