// A GRPO rollout source backed by any OpenAI-compatible chat-completions server (vLLM,
// llama.cpp's llama-server, or this package's own `gmai serve`): one request per prompt with
// n = G, images sent as data: URLs. Token ids come from the `token_id` of each logprobs entry
// when the server gives it (this package's server; vLLM with return_tokens_as_token_ids gives
// "token_id:N" as the token text), else from re-tokenizing the text with the model's tokenizer
// (exact for byte-level BPE round trips, but say so: the policy then scores its own tokens).
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { ChatMessage } from '../processing/chat-template.js';
import type { Rollout, RolloutSource } from './grpo-stages.js';

export interface OpenAiRolloutOptions {
  /** e.g. http://127.0.0.1:8080/v1 */
  baseUrl: string;
  /** The `model` field of requests (default: the server's first model). */
  model?: string;
  apiKey?: string;
  /** Re-tokenizes completions when the server does not return token ids. */
  tokenizer?: { encode(text: string): Int32Array };
  /** Per request, default 10 minutes. */
  timeoutMs?: number;
}

const MIME: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.tif': 'image/tiff', '.tiff': 'image/tiff', '.dcm': 'application/dicom' };

async function imageUrl(image: unknown): Promise<string> {
  if (typeof image === 'string') return `data:${MIME[extname(image).toLowerCase()] ?? 'application/octet-stream'};base64,${(await readFile(image)).toString('base64')}`;
  if (image instanceof Uint8Array) return `data:application/octet-stream;base64,${Buffer.from(image).toString('base64')}`;
  throw new Error('openAiRolloutSource: images must be file paths or bytes to be sent to a server');
}

async function toOpenAi(messages: ChatMessage[]): Promise<unknown[]> {
  return Promise.all(messages.map(async (m) => ({
    role: m.role,
    content: typeof m.content === 'string' ? m.content : await Promise.all(m.content.map(async (p) =>
      p.type === 'text' ? { type: 'text', text: p.text } : { type: 'image_url', image_url: { url: await imageUrl(p.image) } })),
  })));
}

interface Choice {
  index: number;
  message: { content: string | null };
  finish_reason: string;
  logprobs?: { content?: { token: string; logprob: number; token_id?: number }[] | null } | null;
}

export function openAiRolloutSource(opts: OpenAiRolloutOptions): RolloutSource {
  const base = opts.baseUrl.replace(/\/+$/, '');
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}) };
  let model = opts.model;
  const post = async (path: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${base}${path}`, {
      method: body === undefined ? 'GET' : 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 600_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`rollout server ${base}${path}: HTTP ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text);
  };
  return {
    async generate(prompt, o) {
      model ??= (await post('/models')).data?.[0]?.id;
      if (!model) throw new Error(`rollout server ${base}: /models lists no model; set rollout.model`);
      const r = await post('/chat/completions', {
        model, messages: await toOpenAi(prompt.messages), n: o.numGenerations, temperature: o.temperature, top_p: o.topP,
        max_tokens: o.maxCompletionLength, stop: o.stopStrings, seed: o.seed, logprobs: true,
      });
      const choices = [...(r.choices as Choice[])].sort((a, b) => a.index - b.index);
      return choices.map((c): Rollout => {
        const text = c.message.content ?? '';
        const entries = c.logprobs?.content ?? [];
        const ids = entries.map((e) => e.token_id ?? (/^token_id:(\d+)$/.exec(e.token)?.[1] !== undefined ? Number(/^token_id:(\d+)$/.exec(e.token)![1]) : undefined));
        let completionIds: Int32Array;
        if (entries.length && ids.every((x) => x !== undefined)) completionIds = Int32Array.from(ids as number[]);
        else if (opts.tokenizer) completionIds = opts.tokenizer.encode(text);
        else throw new Error(`rollout server ${base} returned no token ids and no tokenizer was given to re-tokenize`);
        return {
          completionIds, text,
          finishReason: c.finish_reason === 'length' ? 'length' : 'stop',
          samplerLogprobs: entries.length === completionIds.length ? Float32Array.from(entries, (e) => e.logprob) : undefined,
        };
      });
    },
  };
}
