// Worker-thread entry that hosts one model: loads it with its processor, then serves `ask`
// and `chat` calls (streamed) through lib/infer/worker-rpc. All model compute happens here,
// so the host's event loop only relays messages.
import { workerData } from 'node:worker_threads';
import { loadModel, type LoadModelOptions } from '../model/model.js';
import { loadProcessor, type ProcessorOverrides } from '../processing/processor.js';
import type { ChatMessage } from '../processing/chat-template.js';
import { ask, type AskRequest } from './ask.js';
import { createGenerator, type GenerateOptions } from './generate.js';
import { native } from '../native.js';
import { checkTokenizerMatchesModel } from './tokenizer-check.js';
import { serveWorker, type CallContext } from './worker-rpc.js';
import { tokenBytes } from '../processing/byte-level.js';
import type { CompleteOptions, CompleteResult, CompletionEvent, TokenText } from './server.js';

export interface ModelWorkerData {
  modelDir: string;
  processorDir?: string;
  load?: Omit<LoadModelOptions, 'onProgress'>;
  processor?: Omit<ProcessorOverrides, 'imagePreprocessor'>;
  /** Nice value of the compute threads (0–19, default 10): higher keeps the host more responsive. */
  computeNice?: number;
}

const data = workerData as ModelWorkerData;
// Generation yields the CPU to the host's event loop (see setComputeNice in the addon).
native().setComputeNice(data.computeNice ?? 10);
const model = await loadModel(data.modelDir, data.load);
const processor = await loadProcessor(data.processorDir ?? data.modelDir, data.processor);
checkTokenizerMatchesModel(model, processor);
const generator = createGenerator(model, processor.tokenizer);

/** A generated token described for OpenAI-style logprobs: its text and raw bytes. */
function describeToken(tokenId: number): TokenText {
  return { token: processor.tokenizer.decode([tokenId]), bytes: tokenBytes(processor.tokenizer.idToToken(tokenId) ?? '') };
}

/** Chat completion: events streamed (with token texts when `tokenTexts`), sequences and the
 * prompt length returned. */
async function complete(ctx: CallContext, messages: ChatMessage[], opts: CompleteOptions = {}): Promise<CompleteResult> {
  const { tokenTexts, upscaleSmallImages, ...generation } = opts;
  const inputs = await processor.apply({ messages, addGenerationPrompt: true, upscaleSmallImages });
  const it = generator.generate(inputs, { ...generation, signal: ctx.signal });
  let r = await it.next();
  while (!r.done) {
    const e: CompletionEvent = r.value;
    if (tokenTexts) {
      Object.assign(e, describeToken(e.tokenId));
      e.topLogprobs = e.topLogprobs?.map((t) => ({ ...t, ...describeToken(t.tokenId) }));
    }
    ctx.emit(e);
    r = await it.next();
  }
  return { sequences: r.value, promptTokens: inputs.inputIds.length };
}

serveWorker({
  info: () => ({ config: model.config, dtype: model.dtype }),
  ask: (ctx, req: Omit<AskRequest, 'signal' | 'onToken'>) =>
    ask(generator, processor, { ...req, signal: ctx.signal, onToken: (text, tokenId) => ctx.emit({ text, tokenId }) }),
  chat: async (ctx, messages: ChatMessage[], opts: Omit<GenerateOptions, 'signal'> = {}) => (await complete(ctx, messages, opts)).sequences,
  complete,
});
