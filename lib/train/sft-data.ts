// Multiple-choice records (the JSONL layouts `gmai eval` reads) → SFT examples: the chat prompt
// with its image, as the model sees it at inference, and the assistant text to learn — the
// record's full `response` when it has one (reasoning traces), else `<answer>X</answer>` with
// the reference letter — followed by <|im_end|> so the model learns to stop.
import type { McqRecord } from '../eval/dataset.js';
import { messagesForQuestion } from '../processing/prompt.js';
import type { Processor } from '../processing/processor.js';
import type { SftExample } from './sft.js';

export interface PreparedExample extends SftExample {
  /** Line of the record in its file. */
  line: number;
  /** Prompt + completion tokens: what the example costs in a micro-batch. */
  tokens: number;
}

/** The assistant text an SFT record teaches. */
export function completionText(r: McqRecord): string {
  return r.response ?? `<answer>${r.answer}</answer>`;
}

/**
 * Preprocesses every record once. A record that fails (unreadable image, …) is reported
 * through `onProblem` with its line and skipped.
 */
export async function prepareSftExamples(records: readonly McqRecord[], processor: Processor, onProblem: (line: number, message: string) => void): Promise<PreparedExample[]> {
  const imEnd = processor.tokenizer.requireId('<|im_end|>');
  const out: PreparedExample[] = [];
  for (const r of records) {
    try {
      const prompt = await processor.apply({ messages: messagesForQuestion(r), addGenerationPrompt: true });
      const text = processor.tokenizer.encode(completionText(r));
      const completionIds = new Int32Array(text.length + 1);
      completionIds.set(text);
      completionIds[text.length] = imEnd;
      out.push({ ...prompt, completionIds, line: r.line, tokens: prompt.inputIds.length + completionIds.length });
    } catch (e) {
      onProblem(r.line, (e as Error).message);
    }
  }
  return out;
}

/**
 * Splits one optimiser step's examples into micro-batches of at most `maxTokens` tokens each
 * (an example longer than the budget gets a micro-batch of its own), in order.
 */
export function microBatches<T extends { tokens: number }>(examples: readonly T[], maxTokens: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [], used = 0;
  for (const e of examples) {
    if (cur.length && used + e.tokens > maxTokens) {
      out.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(e);
    used += e.tokens;
  }
  if (cur.length) out.push(cur);
  return out;
}
