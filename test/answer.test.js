// Answer parsing and reward functions against the reference cases (test/fixtures/rewards, copied
// from the shared golden set; values are exact) and a generated fuzz set scored by Python
// transcriptions of the same functions (make_fuzz.py), plus parseAnswer's own edge cases.
import test from 'ava';
import { accuracyReward, formatReward, parseAnswer, rewards } from '../dist/index.js';
import { fixture, readJson } from './helpers.js';

const curated = readJson(fixture('rewards', 'cases.json'));
const fuzz = readJson(fixture('rewards', 'fuzz.json'));

const columns = {
  format_r1v: (c) => rewards.formatR1V(c),
  format_open_r1_multimodal: (c) => rewards.formatOpenR1Multimodal(c),
  format_mm_eureka: (c) => rewards.formatMmEureka(c),
  accuracy_vlm_r1_mcq: (c, s) => rewards.accuracyVlmR1Mcq(c, s),
  accuracy_medvlm_r1: (c, s) => rewards.accuracyMedVlmR1(c, s),
  accuracy_r1v_string_match: (c, s) => rewards.accuracyR1VStringMatch(c, s),
  answer_med_r1_eval: (c) => rewards.answerMedR1Eval(c),
  med_r1_eval_correct: (c, s) => rewards.medR1EvalCorrect(c, s),
};

test('the curated set covers every column', (t) => {
  t.is(curated.cases.length, 38);
  for (const c of curated.cases) t.deepEqual(Object.keys(c.expected).sort(), Object.keys(columns).sort());
});

for (const [column, fn] of Object.entries(columns)) {
  test(`${column} reproduces every reference case`, (t) => {
    for (const c of curated.cases) t.is(fn(c.completion, c.solution), c.expected[column], `case ${c.id} (${c.note})`);
  });
  test(`${column} agrees with the Python transcription on ${fuzz.cases.length} fuzz strings`, (t) => {
    for (const c of fuzz.cases) t.is(fn(c.completion, c.solution), c.expected[column], `completion ${JSON.stringify(c.completion)} solution ${JSON.stringify(c.solution)}`);
  });
}

test('root aliases: formatReward is rewards.format, accuracyReward is rewards.accuracy', (t) => {
  t.is(formatReward, rewards.format);
  t.is(accuracyReward, rewards.accuracy);
  for (const c of curated.cases) {
    t.is(formatReward(c.completion), c.expected.format_mm_eureka, `case ${c.id}`);
    t.is(accuracyReward(c.completion, c.solution), c.expected.accuracy_medvlm_r1, `case ${c.id}`);
  }
});

// parseAnswer follows accuracy_vlm_r1_mcq (answer block, else the text) except where that
// function's letter regex rejects a plainly correct answer, or guesses from a hedge. Each
// exception is listed with the value parseAnswer gives (docs/answer-parsing.md).
const PARSE_EXCEPTIONS = {
  5: 1, // '(B)': the reference needs punctuation or the end right after the letter
  6: 1, // 'B) Pneumonia': same
  10: 0, // 'A, B': the reference picks B by position; naming two options is not an answer
  23: 1, // full-width 'Ｂ': NFKC makes it B
  26: 1, // upper-case tags: tags are case-insensitive here
  38: 1, // '**B**': markdown emphasis is ignored
};

test('parseAnswer: formatOk equals format_r1v and the letter matches accuracy_vlm_r1_mcq (documented exceptions)', (t) => {
  for (const c of curated.cases) {
    const p = parseAnswer(c.completion);
    t.is(p.formatOk, c.expected.format_r1v === 1, `case ${c.id} formatOk`);
    const truth = parseAnswer(c.solution).letter;
    t.truthy(truth, `case ${c.id}: solution letter`);
    const accuracy = p.letter === truth ? 1 : 0;
    const want = c.id in PARSE_EXCEPTIONS ? PARSE_EXCEPTIONS[c.id] : c.expected.accuracy_vlm_r1_mcq;
    t.is(accuracy, want, `case ${c.id} (${c.note}): letter ${p.letter}`);
  }
});

test('parseAnswer: reasoning and answer blocks', (t) => {
  t.deepEqual(parseAnswer('<think> look \n</think>\n<answer> B </answer>'), { reasoning: 'look', answer: 'B', letter: 'B', formatOk: true });
  t.deepEqual(parseAnswer('<THINK>x</THINK><Answer>c</Answer>'), { reasoning: 'x', answer: 'c', letter: 'C', formatOk: false });
  const prefilled = parseAnswer('lesion is lobar</think><answer>D</answer>');
  t.is(prefilled.reasoning, 'lesion is lobar');
  t.is(prefilled.letter, 'D');
  const truncated = parseAnswer('<think>hmm</think><answer>B. Pneumo');
  t.is(truncated.answer, 'B. Pneumo');
  t.is(truncated.letter, 'B');
  t.false(truncated.formatOk);
  const two = parseAnswer('<think>a</think><answer>A</answer><answer>C</answer>');
  t.is(two.answer, 'A');
  const none = parseAnswer('no tags at all');
  t.deepEqual([none.reasoning, none.answer, none.letter, none.formatOk], [null, null, null, false]);
  t.throws(() => parseAnswer(undefined), { instanceOf: TypeError, message: /'text' must be a string/ });
});

test('parseAnswer: letter forms', (t) => {
  const letter = (a, options) => parseAnswer(`<think>t</think><answer>${a}</answer>`, { options }).letter;
  for (const a of ['B', 'b', '(B)', '(b)', '[B]', 'B.', 'B)', 'B:', '**B**', '`B`', 'Ｂ', ' B ', 'B. Pneumonia', 'B) Pneumonia', '(B) Pneumonia',
    'B: Pneumonia', 'B - Pneumonia', 'The answer is B', 'The answer is B.', 'Answer: B', 'answer: (B)', 'Option B', 'I think A is wrong; the answer is B']) {
    t.is(letter(a), 'B', JSON.stringify(a));
  }
  for (const a of ['', 'A, B', 'A or B', 'Pneumonia', 'the answer is a mass', 'K', 'Z.', 'I choose B, not A.']) t.is(letter(a), null, JSON.stringify(a));
  const options = ['Effusion', 'Pneumonia', 'Atelectasis', 'Normal'];
  t.is(letter('Pneumonia', options), 'B');
  t.is(letter('pneumonia.', options), 'B');
  t.is(letter('It is pneumonia', options), 'B');
  t.is(letter('B. Pneumonia', options), 'B');
  t.is(letter('A. Pneumonia', options), null, 'letter and text disagree');
  t.is(letter('E', options), null, 'not an option letter');
  t.is(letter('Pneumonia', { A: 'Effusion', B: 'Pneumonia' }), 'B');
  t.is(letter('Effusion or pneumonia', options), null);
});

test('reward ports keep Python string semantics', (t) => {
  // Python's '.' crosses \u2028 and strip() removes it; JavaScript's would not.
  t.is(rewards.accuracyR1VStringMatch('<answer>B\u2028</answer>', 'B'), 1);
  t.is(rewards.formatOpenR1Multimodal('<think>a\u2028b</think><answer>B</answer>'), 1);
  t.is(rewards.formatOpenR1Multimodal('<think>a\nb</think><answer>B</answer>'), 0);
  // \x1c is Python whitespace; \ufeff is not.
  t.is(rewards.formatR1V('<think>a</think>\x1c<answer>B</answer>'), 1);
  t.is(rewards.formatR1V('<think>a</think>\ufeff<answer>B</answer>'), 0);
  // Positions count code points (an emoji is one character in Python).
  // (values from Python; counting UTF-16 units would give A, then B)
  t.is(rewards.extractChoiceVlmR1('😀😀😀😀😀 A, B'), 'B');
  t.is(rewards.extractChoiceVlmR1('😀😀😀😀😀😀 B. A.'), 'A');
  t.is(rewards.answerMedR1Eval('<answer> Pneumonía </answer>'), 'Pneumonía');
});
