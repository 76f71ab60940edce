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
import { serveWorker } from './worker-rpc.js';

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
const generator = createGenerator(model, processor.tokenizer);

serveWorker({
  info: () => ({ config: model.config, dtype: model.dtype }),
  ask: (ctx, req: Omit<AskRequest, 'signal' | 'onToken'>) =>
    ask(generator, processor, { ...req, signal: ctx.signal, onToken: (text, tokenId) => ctx.emit({ text, tokenId }) }),
  chat: async (ctx, messages: ChatMessage[], opts: Omit<GenerateOptions, 'signal'> = {}) => {
    const inputs = await processor.apply({ messages, addGenerationPrompt: true });
    const it = generator.generate(inputs, { ...opts, signal: ctx.signal });
    let r = await it.next();
    while (!r.done) { ctx.emit(r.value); r = await it.next(); }
    return r.value;
  },
});
