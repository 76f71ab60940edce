// Multiple-choice evaluation data from JSONL. Two record layouts are accepted:
//  1. { image, question, options: {A: …} | [...], answer: "B", modality?, task? }
//  2. the conversations layout of GMAI-Reasoning10K-style files:
//     { image, conversations: [{from: "human", value: "<image>\nQuestion…\nA. …\nB. …"},
//                              {from: "gpt", value: "B" | "<answer>B</answer>" | "B. text"}] }
// A bad record is reported with its line number and skipped; it never aborts the run.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';

export const LETTERS = 'ABCDEFGHIJ';

export interface McqRecord {
  /** 1-based line number in the file. */
  line: number;
  image: string;
  question: string;
  /** Option text by letter, in order. */
  options: Record<string, string>;
  answer: string;
  modality?: string;
  task?: string;
  /** The full assistant text to train on (SFT), when the record carries one. */
  response?: string;
}

export interface DatasetProblem {
  line: number;
  message: string;
}

export interface LoadedDataset {
  records: McqRecord[];
  problems: DatasetProblem[];
}

/** Parses a JSONL file; image paths are resolved against the file's folder. */
export function loadMcqDataset(file: string, opts: { limit?: number } = {}): LoadedDataset {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read data file ${file}: ${(e as Error).message}`);
  }
  return parseMcqJsonl(text, dirname(resolve(file)), opts);
}

export function parseMcqJsonl(text: string, baseDir: string, opts: { limit?: number } = {}): LoadedDataset {
  const records: McqRecord[] = [];
  const problems: DatasetProblem[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (opts.limit !== undefined && records.length >= opts.limit) break;
    const raw = lines[i].trim();
    if (!raw) continue;
    try {
      let obj: unknown;
      try {
        obj = JSON.parse(raw);
      } catch (e) {
        throw new Error(`not valid JSON (${(e as Error).message})`);
      }
      records.push(normaliseRecord(obj, i + 1, baseDir));
    } catch (e) {
      problems.push({ line: i + 1, message: (e as Error).message });
    }
  }
  return { records, problems };
}

function normaliseRecord(obj: unknown, line: number, baseDir: string): McqRecord {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new Error('record is not a JSON object');
  const r = obj as Record<string, unknown>;
  const image = pickImage(r);
  const meta = {
    modality: typeof r.modality === 'string' ? r.modality : undefined,
    task: typeof r.task === 'string' ? r.task : undefined,
    ...(typeof r.response === 'string' ? { response: r.response } : {}),
  };
  const imagePath = isAbsolute(image) ? image : resolve(baseDir, image);
  if (Array.isArray(r.conversations)) {
    const turns = r.conversations as { from?: unknown; value?: unknown }[];
    const human = turns.find((t) => t && (t.from === 'human' || t.from === 'user'));
    const gpt = turns.find((t) => t && (t.from === 'gpt' || t.from === 'assistant'));
    if (!human || typeof human.value !== 'string') throw new Error("'conversations' has no human turn with a string 'value'");
    if (!gpt || typeof gpt.value !== 'string') throw new Error("'conversations' has no gpt turn with a string 'value'");
    const { question, options } = splitInlineOptions(human.value.replace(/<image>\s*/g, '').trim());
    if (Object.keys(options).length < 2) throw new Error('could not find at least two options (lines like "A. …") in the human turn');
    const answer = answerLetter(gpt.value, options);
    // A gpt turn with reasoning tags is a full assistant text to train on.
    const response = /<answer>/.test(gpt.value) && /<think>/.test(gpt.value) ? gpt.value : meta.response;
    return { line, image: imagePath, question, options, answer, ...meta, ...(response ? { response } : {}) };
  }
  if (typeof r.question !== 'string' || !r.question.trim()) throw new Error("field 'question' must be a non-empty string");
  const options = normaliseOptions(r.options);
  if (typeof r.answer !== 'string') throw new Error("field 'answer' must be a string (the option letter)");
  const answer = answerLetter(r.answer, options);
  return { line, image: imagePath, question: r.question.trim(), options, answer, ...meta };
}

function pickImage(r: Record<string, unknown>): string {
  const v = r.image ?? r.image_path ?? r.images;
  const img = Array.isArray(v) ? v[0] : v;
  if (typeof img !== 'string' || !img) throw new Error("field 'image' must be a path string");
  return img;
}

function normaliseOptions(v: unknown): Record<string, string> {
  let entries: [string, string][];
  if (Array.isArray(v)) {
    entries = v.map((x, i) => {
      if (typeof x !== 'string') throw new Error(`option ${i} is not a string`);
      return [LETTERS[i], x.replace(/^\s*\(?[A-J][.):]\s+/, '').trim()];
    });
  } else if (v && typeof v === 'object') {
    entries = Object.entries(v as Record<string, unknown>).map(([k, x]) => {
      const key = k.trim().toUpperCase();
      if (!/^[A-J]$/.test(key)) throw new Error(`option key '${k}' is not a letter A–J`);
      if (typeof x !== 'string') throw new Error(`option ${key} is not a string`);
      return [key, x.trim()];
    });
  } else {
    throw new Error("field 'options' must be an object {A: …} or an array");
  }
  if (entries.length < 2 || entries.length > LETTERS.length) throw new Error(`'options' must have 2 to 10 entries, got ${entries.length}`);
  return Object.fromEntries(entries);
}

/** Splits "Question…\nA. x\nB. y" into the question and its options. */
export function splitInlineOptions(text: string): { question: string; options: Record<string, string> } {
  const options: Record<string, string> = {};
  const questionLines: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*\(?([A-J])[.):]\s*(.+)$/.exec(line);
    if (m && (Object.keys(options).length > 0 ? true : m[1] === 'A')) options[m[1]] = m[2].trim();
    else if (Object.keys(options).length === 0) questionLines.push(line);
  }
  return { question: questionLines.join('\n').trim(), options };
}

/** The letter of a ground-truth answer given as "B", "(B)", "B. text", "<answer>B</answer>" or option text. */
export function answerLetter(raw: string, options: Record<string, string>): string {
  const inner = /<answer>([\s\S]*?)<\/answer>/i.exec(raw)?.[1] ?? raw;
  const s = inner.trim();
  const m = /^\(?([A-Ja-j])\)?(?:[.):\s]|$)/.exec(s);
  if (m && options[m[1].toUpperCase()] !== undefined) return m[1].toUpperCase();
  const byText = Object.entries(options).find(([, t]) => t.toLowerCase() === s.toLowerCase());
  if (byText) return byText[0];
  throw new Error(`answer '${raw.slice(0, 40)}' is not one of the option letters ${Object.keys(options).join('')}`);
}
