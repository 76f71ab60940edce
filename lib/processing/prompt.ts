// The multiple-choice prompt GMAI-VL-R1-style models are trained on: the question, lettered
// options, and an instruction to reason inside <think></think> and give the option letter
// inside <answer></answer> (the format the R1-style format and accuracy rewards check).
import type { ChatMessage, ContentPart } from './chat-template.js';

export const OPTION_LETTERS = 'ABCDEFGHIJ';

export interface McQuestion {
  question: string;
  /** { A: '…', B: '…' } or ['…', '…'] (lettered in order). */
  options: Record<string, string> | string[];
}

export type PromptTemplate = (q: { question: string; options: [string, string][] }) => string;

export const defaultReasoningTemplate: PromptTemplate = ({ question, options }) =>
  `${question.trim()}\n` +
  `Options:\n${options.map(([k, v]) => `${k}. ${v}`).join('\n')}\n` +
  'First reason through the question step by step inside <think> </think> tags. ' +
  'Then give only the letter of the correct option inside <answer> </answer> tags.';

/** Normalises options to [letter, text] pairs A, B, … (2 to 10 of them). */
export function letteredOptions(options: McQuestion['options']): [string, string][] {
  const entries: [string, string][] = Array.isArray(options)
    ? options.map((o, i) => [OPTION_LETTERS[i], String(o)])
    : Object.entries(options ?? {}).map(([k, v]) => [k.trim().toUpperCase(), String(v)]);
  if (entries.length < 2) throw new RangeError(`a multiple-choice question needs at least 2 options, got ${entries.length}`);
  if (entries.length > OPTION_LETTERS.length) throw new RangeError(`at most ${OPTION_LETTERS.length} options (A–J) are supported, got ${entries.length}`);
  for (const [k] of entries) if (!k || !OPTION_LETTERS.includes(k) || k.length !== 1) throw new RangeError(`option key '${k}' is not a letter A–J`);
  return entries;
}

export function buildMultipleChoicePrompt(q: McQuestion & { template?: PromptTemplate }): string {
  if (typeof q.question !== 'string' || !q.question.trim()) throw new RangeError('question must be a non-empty string');
  return (q.template ?? defaultReasoningTemplate)({ question: q.question, options: letteredOptions(q.options) });
}

/** Chat messages for one image and one multiple-choice question (system prompt optional). */
export function messagesForQuestion(q: McQuestion & { image: unknown; system?: string; template?: PromptTemplate }): ChatMessage[] {
  const content: ContentPart[] = [{ type: 'image', image: q.image }, { type: 'text', text: buildMultipleChoicePrompt(q) }];
  return [...(q.system ? [{ role: 'system' as const, content: q.system }] : []), { role: 'user', content }];
}
