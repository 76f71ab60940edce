// Rule-based rewards for multiple-choice <think>…</think><answer>…</answer> completions, each an
// exact port of one function of a public R1-style VLM RL code base (quirks included: these are
// what those trainings optimised), and the two the package trains with, `accuracy` and `format`,
// each one of those ports (chosen and justified in docs/answer-parsing.md).
// test/fixtures/rewards/cases.json holds the reference values. Weighted combinations with user
// reward functions: ./reward-functions.ts.
//
// Ports use Python string semantics (lib/text/python.ts): Python's whitespace for \s and
// strip(), `.` that stops only at '\n', Unicode \w, and code-point positions.
import { isR1Format } from '../infer/answer.js';
import { pyCollapseWhitespace, pyDot, pyS, pyStrip, pyW } from '../text/python.js';

export type Reward = number;

// ---- format -------------------------------------------------------------------------------------

/**
 * R1-V / VLM-R1 / Med-R1 / MedVLM-R1 / EasyR1 `format_reward`: 1.0 when the whole completion is
 * `<think>.*?</think>\s*<answer>.*?</answer>` (DOTALL, re.fullmatch), else 0.0.
 */
export function formatR1V(completion: string): Reward {
  return isR1Format(completion) ? 1 : 0;
}

const OPEN_R1_FORMAT = new RegExp(`^<think>${pyDot}*?</think>${pyS}*<answer>${pyDot}*?</answer>`);
/**
 * open-r1-multimodal `format_reward`: re.match (a prefix match) of the same pattern without
 * DOTALL, so a newline inside either block fails and trailing text passes. 1.0 / 0.0.
 */
export function formatOpenR1Multimodal(completion: string): Reward {
  return OPEN_R1_FORMAT.test(completion) ? 1 : 0;
}

const MM_EUREKA_FORMAT = new RegExp(
  '^(?=(?:.*<think>){1})(?=(?:.*</think>){1})(?=(?:.*<answer>){1})(?=(?:.*</answer>){1})' +
    '(?!.*<think>.*<think>)(?!.*</think>.*</think>)(?!.*<answer>.*<answer>)(?!.*</answer>.*</answer>)' +
    `.*<think>(.+?)</think>${pyS}*<answer>.+?</answer>.*$`,
  's',
);
/**
 * MM-EUREKA `format_reward_func`: 0.5 when each tag occurs exactly once, think before answer,
 * only whitespace between the blocks, both non-empty; text before and after is allowed. Else 0.0.
 */
export function formatMmEureka(completion: string): Reward {
  return MM_EUREKA_FORMAT.test(completion) ? 0.5 : 0;
}

// ---- accuracy ---------------------------------------------------------------------------------

const ANSWER_DOTALL = /<answer>([^]*?)<\/answer>/;
const ANSWER_LINE = new RegExp(`<answer>(${pyDot}*?)</answer>`);
const ANSWER_DOTALL_ICASE = /<answer>([^]*?)<\/answer>/iu;

/** re.search(pattern, text).group(1).strip(), or `fallback` when there is no match. */
function firstGroupStripped(re: RegExp, text: string, fallback: string): string {
  const m = re.exec(text);
  return m ? pyStrip(m[1]) : fallback;
}

const CHOICE_KEYWORDS = ['答案', '选择', '正确', '是', '对', 'answer', 'correct', 'choose', 'select', 'right',
  '认为', '应该', '觉得', 'think', 'believe', 'should'].map((k) => k.toUpperCase());
const CHOICE_FOLLOWERS = '.,?!:;';
const SCORE_PUNCTUATION = '。.!！,，';
const isAsciiUpper = (c: string | undefined) => c !== undefined && c >= 'A' && c <= 'Z' && c.length === 1;

/**
 * VLM-R1 `extract_choice`: upper-case, collapse whitespace, then the capitals not preceded by a
 * capital and followed by one of .,?!:; or the end. One → it; several → a score per candidate
 * (keywords within 20 characters of the letter's first occurrence, +2 in the last 30 % of the
 * text, +1 if punctuation follows), the first best wins. Positions count code points, as Python.
 */
export function extractChoiceVlmR1(text: string): string | null {
  const cps = Array.from(pyCollapseWhitespace(text.toUpperCase()));
  const n = cps.length;
  const choices: string[] = [];
  for (let i = 0; i < n; i++) {
    if (!isAsciiUpper(cps[i]) || isAsciiUpper(cps[i - 1])) continue;
    if (i === n - 1 || CHOICE_FOLLOWERS.includes(cps[i + 1])) choices.push(cps[i]);
  }
  if (choices.length === 0) return null;
  if (choices.length === 1) return choices[0];
  const scores = new Map<string, number>(choices.map((c) => [c, 0]));
  for (const choice of choices) {  // duplicates score again, as the original's loop does
    const pos = cps.indexOf(choice);
    const context = cps.slice(Math.max(0, pos - 20), Math.min(n, pos + 20)).join('');
    let score = scores.get(choice)!;
    for (const k of CHOICE_KEYWORDS) if (context.includes(k)) score += 1;
    if (pos > n * 0.7) score += 2;
    if (pos < n - 1 && SCORE_PUNCTUATION.includes(cps[pos + 1])) score += 1;
    scores.set(choice, score);
  }
  let best: string | null = null, bestScore = -Infinity;
  for (const [c, s] of scores) if (s > bestScore) { best = c; bestScore = s; }
  return best;
}

/**
 * VLM-R1 `mcq_reward`: the ground-truth letter is extract_choice of the solution's answer text
 * (or the stripped solution string itself when none is found); the student's text is the first
 * answer block (DOTALL) or else the whole completion, stripped. 1.0 when extract_choice of it
 * equals the ground truth, else 0.0.
 */
export function accuracyVlmR1Mcq(completion: string, solution: string): Reward {
  const groundTruth = firstGroupStripped(ANSWER_LINE, solution, pyStrip(solution));
  const gtChoice = extractChoiceVlmR1(groundTruth);
  const correct = gtChoice ? gtChoice.toUpperCase() : pyStrip(solution);
  const student = firstGroupStripped(ANSWER_DOTALL, completion, pyStrip(completion));
  const choice = extractChoiceVlmR1(student);
  return choice !== null && choice === correct ? 1 : 0;
}

/**
 * MedVLM-R1 `accuracy_reward`: the first answer block (DOTALL, IGNORECASE; none → 0.0),
 * upper-cased, must contain exactly one character in A–J, equal to the ground truth letter:
 * 1.0 if nothing but whitespace remains once that letter is removed, 0.5 otherwise. Else 0.0.
 */
export function accuracyMedVlmR1(completion: string, solution: string): Reward {
  const groundTruth = firstGroupStripped(ANSWER_DOTALL_ICASE, solution, pyStrip(solution));
  const gtLetter = groundTruth.toUpperCase().replace(new RegExp(`${pyS}+`, 'g'), '');
  const student = pyStrip(firstGroupStripped(ANSWER_DOTALL_ICASE, completion, ''));
  const upper = student.toUpperCase();
  if (!upper) return 0;
  const letters = upper.match(/[A-J]/g) ?? [];
  if (letters.length !== 1 || letters[0] !== gtLetter) return 0;
  // re.sub('(?i)' + letter, '', answer, count=1): drop the first character that upper-cases to it
  const cps = Array.from(student);
  const at = cps.findIndex((c) => c.toUpperCase() === letters[0]);
  if (at >= 0) cps.splice(at, 1);
  return pyStrip(cps.join('')) ? 0.5 : 1;
}

/**
 * R1-V / open-r1-multimodal / Med-R1 `accuracy_reward`, string-match branch: the first answer
 * block without DOTALL (an answer spanning lines is not found) or else the whole completion,
 * stripped, must equal the stripped ground truth. 1.0 / 0.0. (Their math_verify step, tried
 * first, is not reproduced; it could only turn some 0.0 into 1.0.)
 */
export function accuracyR1VStringMatch(completion: string, solution: string): Reward {
  const groundTruth = firstGroupStripped(ANSWER_LINE, solution, pyStrip(solution));
  const student = firstGroupStripped(ANSWER_LINE, completion, pyStrip(completion));
  return student === groundTruth ? 1 : 0;
}

const MED_R1_EVAL = new RegExp(`<answer>${pyS}*(${pyW}+)${pyS}*</answer>`, 'u');
/** Med-R1 evaluation's `extract_option_answer`: re.search(r'<answer>\s*(\w+)\s*</answer>') group 1, or null. */
export function answerMedR1Eval(text: string): string | null {
  return MED_R1_EVAL.exec(text)?.[1] ?? null;
}

/** Med-R1 evaluation: 1.0 when the extracted answers of completion and solution are equal; null if the solution has none. */
export function medR1EvalCorrect(completion: string, solution: string): Reward | null {
  const truth = answerMedR1Eval(solution);
  if (truth === null) return null;
  return answerMedR1Eval(completion) === truth ? 1 : 0;
}

// ---- the package's rewards: rewards.format and rewards.accuracy ------------------------------------

/**
 * The format reward GMAI-VL-R1 trains with: MM-EUREKA's `format_reward_func` (`formatMmEureka`,
 * reproducing the `format_mm_eureka` column on all 38 reference cases), so 0.5 or 0.0.
 * 0.5 when the completion holds exactly one `<think>` block followed, after whitespace only, by
 * exactly one `<answer>` block, both non-empty; text before or after is allowed (a trailing
 * newline or end-of-turn token costs nothing). One guard is added on top of the port: an answer
 * block holding only whitespace scores 0.0 (MM-EUREKA's `.+?` accepts `<answer> </answer>`;
 * no reference case has one). It is the only reference column that never pays an empty or
 * missing answer: `format_r1v` and `format_open_r1_multimodal` pay `<answer></answer>` (case 28).
 * Scale it with a weight (e.g. 2 → 1.0) when combining rewards.
 */
export function format(completion: string): Reward {
  requireString(completion, 'completion');
  if (formatMmEureka(completion) === 0) return 0;
  return pyStrip(ANSWER_DOTALL.exec(completion)![1]) ? 0.5 : 0;
}

/**
 * The accuracy reward GMAI-VL-R1 trains with: MedVLM-R1's `accuracy_reward` (`accuracyMedVlmR1`,
 * reproducing the `accuracy_medvlm_r1` column on all 38 reference cases): 1.0 when the first
 * `<answer>` block (tags in any case) names exactly one letter A–J and nothing else, 0.5 when it
 * names exactly the right letter among other text (`B.`, `(B)`), 0.0 otherwise — and 0.0 for a
 * missing, empty or blank answer block, and for a hedge naming several letters (`A, B`), which
 * VLM-R1's heuristic pays. `solution` is the ground truth as a letter or `<answer>B</answer>`.
 */
export function accuracy(completion: string, solution: string): Reward {
  requireString(completion, 'completion');
  requireString(solution, 'solution');
  return accuracyMedVlmR1(completion, solution);
}

function requireString(value: unknown, name: string): void {
  if (typeof value !== 'string') throw new TypeError(`rewards: '${name}' must be a string, got ${value === null ? 'null' : typeof value}`);
}

/** Same function as `format` (the name exported at the package root since before `rewards.format`). */
export const formatReward = format;
/** Same function as `accuracy`. */
export const accuracyReward = accuracy;
