// Validates an OpenAI chat-completions request body into what the model worker needs. Every
// refusal is an ApiError naming the field (`param`), as OpenAI's API does; fields this server
// does not use (user, response_format, …) are ignored.
import { ApiError } from './errors.js';

export type RequestPart = { type: 'text'; text: string } | { type: 'image_url'; url: string; param: string };

export interface RequestMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | RequestPart[];
}

export interface ChatRequest {
  model: string;
  messages: RequestMessage[];
  stream: boolean;
  includeUsage: boolean;
  n: number;
  maxTokens: number;
  temperature: number;
  topP: number;
  presencePenalty: number;
  frequencyPenalty: number;
  seed?: number;
  stop: string[];
  logprobs: boolean;
  topLogprobs: number;
}

export interface RequestLimits {
  /** Largest `n` accepted. */
  maxN: number;
  /** Largest `max_tokens` accepted, and the default when it is absent. */
  maxTokens: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function number(body: Record<string, unknown>, field: string, fallback: number, lo: number, hi: number, integer = false): number {
  const v = body[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ApiError(`'${field}' must be a number, got ${JSON.stringify(v)}`, field);
  if (integer && !Number.isInteger(v)) throw new ApiError(`'${field}' must be an integer, got ${v}`, field);
  if (v < lo || v > hi) throw new ApiError(`'${field}' must be between ${lo} and ${hi}, got ${v}`, field);
  return v;
}

function boolean(body: Record<string, unknown>, field: string): boolean {
  const v = body[field];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw new ApiError(`'${field}' must be a boolean, got ${JSON.stringify(v)}`, field);
  return v;
}

function parsePart(part: unknown, param: string): RequestPart {
  if (!isObject(part)) throw new ApiError(`'${param}' must be an object with a 'type'`, param);
  if (part.type === 'text') {
    if (typeof part.text !== 'string') throw new ApiError(`'${param}.text' must be a string`, `${param}.text`);
    return { type: 'text', text: part.text };
  }
  if (part.type === 'image_url') {
    const img = part.image_url;
    const url = isObject(img) ? img.url : img;
    if (typeof url !== 'string' || !url) throw new ApiError(`'${param}.image_url.url' must be a non-empty string`, `${param}.image_url.url`);
    return { type: 'image_url', url, param: `${param}.image_url.url` };
  }
  throw new ApiError(`'${param}.type' must be 'text' or 'image_url', got ${JSON.stringify(part.type)}`, `${param}.type`);
}

function parseMessage(m: unknown, i: number): RequestMessage {
  const param = `messages[${i}]`;
  if (!isObject(m)) throw new ApiError(`'${param}' must be an object with 'role' and 'content'`, param);
  // 'developer' is the newer name of the system role.
  const role = m.role === 'developer' ? 'system' : m.role;
  if (role !== 'system' && role !== 'user' && role !== 'assistant') {
    throw new ApiError(`'${param}.role' must be 'system', 'user' or 'assistant', got ${JSON.stringify(m.role)}`, `${param}.role`);
  }
  const c = m.content;
  if (typeof c === 'string') return { role, content: c };
  if (c === null && role === 'assistant') return { role, content: '' };
  if (!Array.isArray(c)) throw new ApiError(`'${param}.content' must be a string or an array of parts`, `${param}.content`);
  const parts = c.map((p, k) => parsePart(p, `${param}.content[${k}]`));
  if (role !== 'user' && parts.some((p) => p.type === 'image_url')) {
    throw new ApiError(`'${param}.content': images are accepted in user messages only`, `${param}.content`);
  }
  return { role, content: parts };
}

export function parseChatRequest(body: unknown, limits: RequestLimits): ChatRequest {
  if (!isObject(body)) throw new ApiError('the request body must be a JSON object');
  if (typeof body.model !== 'string' || !body.model) throw new ApiError("'model' must be a non-empty string", 'model');
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw new ApiError("'messages' must be a non-empty array", 'messages');
  const messages = body.messages.map(parseMessage);
  if (messages.at(-1)!.role === 'assistant') throw new ApiError("'messages': the last message must not be the assistant's (continuing a reply is not supported)", 'messages');
  const stream = boolean(body, 'stream');
  const so = body.stream_options;
  if (so !== undefined && so !== null && !isObject(so)) throw new ApiError("'stream_options' must be an object", 'stream_options');
  const includeUsage = isObject(so) && so.include_usage === true;
  // max_completion_tokens is the newer spelling of max_tokens.
  const tokenField = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null ? 'max_completion_tokens' : 'max_tokens';
  const maxTokens = number(body, tokenField, limits.maxTokens, 1, limits.maxTokens, true);
  const seed = body.seed === undefined || body.seed === null ? undefined : number(body, 'seed', 0, -(2 ** 63), 2 ** 64, true);
  const stopValue = body.stop;
  let stop: string[] = [];
  if (typeof stopValue === 'string') stop = [stopValue];
  else if (Array.isArray(stopValue)) stop = stopValue;
  else if (stopValue !== undefined && stopValue !== null) throw new ApiError("'stop' must be a string or an array of up to 4 strings", 'stop');
  if (stop.length > 4 || stop.some((s) => typeof s !== 'string' || !s)) throw new ApiError("'stop' must be a string or an array of up to 4 non-empty strings", 'stop');
  const logprobs = boolean(body, 'logprobs');
  const topLogprobs = number(body, 'top_logprobs', 0, 0, 20, true);
  if (topLogprobs > 0 && !logprobs) throw new ApiError("'top_logprobs' needs 'logprobs': true", 'top_logprobs');
  return {
    model: body.model,
    messages,
    stream,
    includeUsage,
    n: number(body, 'n', 1, 1, limits.maxN, true),
    maxTokens,
    temperature: number(body, 'temperature', 1, 0, 2),
    topP: number(body, 'top_p', 1, Number.MIN_VALUE, 1),
    presencePenalty: number(body, 'presence_penalty', 0, -2, 2),
    frequencyPenalty: number(body, 'frequency_penalty', 0, -2, 2),
    // The sampler's seed is 32-bit: larger seeds are folded into it.
    seed: seed === undefined ? undefined : Number(BigInt.asUintN(32, BigInt(seed))),
    stop,
    logprobs,
    topLogprobs,
  };
}
