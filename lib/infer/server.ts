// A model served from a worker thread: `startModelServer(dir)` loads the model and processor
// off the main thread, and every call streams back over a message port. Concurrent calls
// are decoded together (continuous batching in the worker's engine).
import type { ChatMessage } from '../processing/chat-template.js';
import type { AskRequest, AskResult } from './ask.js';
import type { GeneratedSequence, GenerationEvent } from './engine.js';
import type { GenerateOptions } from './generate.js';
import type { ModelWorkerData } from './model-worker.js';
import { WorkerClient } from './worker-rpc.js';

export type ServerOptions = Omit<ModelWorkerData, 'modelDir'>;

export interface CompleteOptions extends Omit<GenerateOptions, 'signal'> {
  /** Add each token's text and bytes to the events (for OpenAI-style logprobs). */
  tokenTexts?: boolean;
  /** Upscale images smaller than the model's minimum instead of refusing them. */
  upscaleSmallImages?: boolean;
}

export interface TokenText {
  token: string;
  bytes: number[];
}

/** A streamed token; `token`/`bytes` (and those of `topLogprobs`) when `tokenTexts` was asked. */
export type CompletionEvent = Omit<GenerationEvent, 'topLogprobs'> & Partial<TokenText> & {
  topLogprobs?: ({ tokenId: number; logprob: number } & Partial<TokenText>)[];
};

export interface CompleteResult {
  sequences: GeneratedSequence[];
  /** Prompt length in tokens, image placeholders included. */
  promptTokens: number;
}

export class ModelServer {
  private constructor(private readonly client: WorkerClient) {}

  /** Starts a worker and waits until the model and processor are loaded. */
  static async start(modelDir: string, opts: ServerOptions = {}): Promise<ModelServer> {
    const client = new WorkerClient(new URL('./model-worker.js', import.meta.url), { modelDir, ...opts } satisfies ModelWorkerData);
    const server = new ModelServer(client);
    try {
      await server.info();
    } catch (e) {
      await client.close();
      throw e;
    }
    return server;
  }

  info(): Promise<{ config: unknown; dtype: string }> {
    return this.client.call('info');
  }

  /** askImage in the worker; `onToken` and `signal` work across the thread boundary. */
  async askImage(req: AskRequest): Promise<AskResult> {
    const { onToken, signal, ...rest } = req;
    const it = this.client.stream<{ text: string; tokenId: number }, AskResult>('ask', [rest], { signal });
    let r = await it.next();
    while (!r.done) { onToken?.(r.value.text, r.value.tokenId); r = await it.next(); }
    return r.value;
  }

  /** Chat completion with streaming: yields token events, returns the finished sequences. */
  chat(messages: ChatMessage[], opts: GenerateOptions = {}): AsyncGenerator<GenerationEvent, GeneratedSequence[]> {
    const { signal, ...rest } = opts;
    return this.client.stream<GenerationEvent, GeneratedSequence[]>('chat', [messages, rest], { signal });
  }

  /** Chat completion for a server: token events (with texts on request), then the sequences
   * and the prompt's length. */
  complete(messages: ChatMessage[], opts: CompleteOptions & { signal?: AbortSignal } = {}): AsyncGenerator<CompletionEvent, CompleteResult> {
    const { signal, ...rest } = opts;
    return this.client.stream<CompletionEvent, CompleteResult>('complete', [messages, rest], { signal });
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export const startModelServer = ModelServer.start;
