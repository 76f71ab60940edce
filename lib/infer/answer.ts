// Answer parsing for <think>…</think><answer>…</answer> completions of multiple-choice
// questions. Tolerant by design (case of tags, whitespace, markdown, full-width letters, "(B)",
// "B. Pneumonia", "The answer is B", option text): it reports what the model answered. The
// rule-based rewards that reproduce published training code, quirks included, live in
// lib/train/rewards.ts; docs/answer-parsing.md compares the two on the reference cases.
import { pyS, pyStrip } from '../text/python.js';

export interface ParsedAnswer {
  /** Text of the first think block (or everything before a lone `</think>`), trimmed; null if none. */
  reasoning: string | null;
  /** Text of the first answer block (to the end if unclosed), trimmed; null if none. */
  answer: string | null;
  /** The chosen option letter (upper case), or null when none or several are named. */
  letter: string | null;
  /** The strict R1 format: the whole text is <think>…</think>, whitespace, <answer>…</answer>. */
  formatOk: boolean;
}

export interface ParseOptions {
  /** Option texts, as a list (A, B, C, …) or a map letter → text: lets "Pneumonia" mean "B". */
  options?: readonly string[] | Readonly<Record<string, string>>;
}

// R1-V / VLM-R1 / Med-R1 / MedVLM-R1 / EasyR1 format_reward:
// re.fullmatch(r'<think>.*?</think>\s*<answer>.*?</answer>', text, re.DOTALL)
const R1_FORMAT = new RegExp(`^<think>[^]*?</think>${pyS}*<answer>[^]*?</answer>$`);

/** True when `text` has the strict `<think>…</think>\s*<answer>…</answer>` shape (format_r1v). */
export function isR1Format(text: string): boolean {
  return R1_FORMAT.test(text);
}

const THINK_BLOCK = /<think>([^]*?)<\/think>/i;
const THINK_CLOSE = /<\/think>/i;
const ANSWER_OPEN = /<answer>/i;
const ANSWER_CLOSE = /<\/answer>/i;

function firstAnswerBlock(text: string): string | null {
  const open = ANSWER_OPEN.exec(text);
  if (!open) return null;
  const rest = text.slice(open.index + open[0].length);
  const close = ANSWER_CLOSE.exec(rest);
  return pyStrip(close ? rest.slice(0, close.index) : rest);
}

function reasoningOf(text: string): string | null {
  const block = THINK_BLOCK.exec(text);
  if (block) return pyStrip(block[1]);
  const close = THINK_CLOSE.exec(text);  // the opening tag was part of the prompt template
  return close ? pyStrip(text.slice(0, close.index)) : null;
}

function optionMap(options: ParseOptions['options']): Map<string, string> {
  const map = new Map<string, string>();
  if (!options) return map;
  if (Array.isArray(options)) options.forEach((o, i) => map.set(String.fromCharCode(65 + i), o));
  else for (const [k, v] of Object.entries(options)) map.set(k.trim().toUpperCase(), v as string);
  return map;
}

/** Lower case, NFKC, punctuation and extra spaces removed: for comparing option texts. */
function normaliseText(s: string): string {
  return s.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

const LONE_LETTER = /^[([{]?([A-Za-z])[)\]}]?[.:;,!?)]?$/;
const LETTER_THEN_TEXT = /^[([]?([A-Z])\s*(?:[.:)\]]|\s-)\s*(\S[^]*)$/;
// Keywords in any common casing, the letter itself upper case ("the answer is a mass" names no option).
const NAMED_LETTER = /\b(?:[Aa]nswer|ANSWER|[Oo]ption|OPTION|[Cc]hoice|CHOICE)\s*(?:is|IS|:|=)?\s*[([]?([A-Z])(?![A-Za-z])/g;
const STANDALONE_LETTER = /(?<![A-Za-z])([A-Z])(?![A-Za-z])/g;

/**
 * The option letter named by an answer text. In order: a lone letter ("B", "(b)", "B."), a letter
 * followed by its option text ("B. Pneumonia", "(B) Pneumonia"), a letter after "answer",
 * "option" or "choice" ("The answer is B"), the option text itself when options are given, and
 * finally a single distinct standalone capital among the option letters. Several candidates at
 * the last step (e.g. "A, B") give null: a hedge is not an answer.
 */
export function extractLetter(answer: string, opts: ParseOptions = {}): string | null {
  const options = optionMap(opts.options);
  const allowed = (l: string) => (options.size ? options.has(l) : l >= 'A' && l <= 'J');
  const s = answer.normalize('NFKC').replace(/[*_`]/g, '').trim();
  if (!s) return null;

  const lone = LONE_LETTER.exec(s);
  if (lone) {
    const l = lone[1].toUpperCase();
    return allowed(l) ? l : null;
  }
  const lead = LETTER_THEN_TEXT.exec(s);
  if (lead && allowed(lead[1])) {
    // With options, "B. Pneumonia" must name option B's text (or a prefix of it): a letter
    // with another option's text contradicts itself and names nothing.
    const text = options.get(lead[1]);
    if (!text) return lead[1];
    const said = normaliseText(lead[2]), want = normaliseText(text);
    return want.startsWith(said) || said.startsWith(want) ? lead[1] : null;
  }
  const named = [...s.matchAll(NAMED_LETTER)].map((m) => m[1]).filter(allowed);
  if (named.length) return named[named.length - 1];  // the last statement is the conclusion

  if (options.size) {
    const norm = normaliseText(s);
    const exact = [...options].filter(([, text]) => normaliseText(text) === norm);
    if (exact.length === 1) return exact[0][0];
    const contained = [...options].filter(([, text]) => {
      const t = normaliseText(text);
      return t.length > 0 && ` ${norm} `.includes(` ${t} `);
    });
    if (contained.length === 1) return contained[0][0];
  }
  const standalone = new Set([...s.matchAll(STANDALONE_LETTER)].map((m) => m[1]).filter(allowed));
  return standalone.size === 1 ? [...standalone][0] : null;
}

/**
 * Parses a completion. `letter` comes from the first answer block; without one, from the text
 * after the last `</think>`, or from the whole text when that is empty (a model that forgot
 * the tags still answered).
 */
export function parseAnswer(text: string, opts: ParseOptions = {}): ParsedAnswer {
  if (typeof text !== 'string') throw new TypeError(`parseAnswer: 'text' must be a string, got ${typeof text}`);
  const answer = firstAnswerBlock(text);
  let source = answer;
  if (source === null) {
    const parts = text.split(/<\/think>/i);
    const tail = pyStrip(parts[parts.length - 1]);
    source = tail || pyStrip(text.replace(/<\/?think>/gi, ' '));
  }
  return { reasoning: reasoningOf(text), answer, letter: extractLetter(source, opts), formatOk: isR1Format(text) };
}

