import test from 'ava';
import { parseMcqJsonl, answerLetter, splitInlineOptions } from '../dist/eval/dataset.js';

test('both record layouts parse; bad records are reported with their line and skipped', (t) => {
  const lines = [
    JSON.stringify({ image: 'a.png', question: 'Which?', options: { A: 'x', B: 'y' }, answer: 'B', modality: 'CT' }),
    '{not json',
    JSON.stringify({ image: 'b.png', conversations: [
      { from: 'human', value: '<image>\nWhat is shown?\nA. Pneumonia\nB. Normal\nC. Effusion' },
      { from: 'gpt', value: '<answer>C</answer>' }] }),
    '',
    JSON.stringify({ image: 'c.png', question: 'Q', options: ['A. one', 'two'], answer: 'Z' }),
    JSON.stringify({ question: 'Q', options: ['one', 'two'], answer: 'A' }),
    JSON.stringify({ image: '/abs/d.png', question: 'Q', options: ['one', 'two'], answer: 'two', task: 'dx' }),
  ];
  const { records, problems } = parseMcqJsonl(lines.join('\n'), '/data');
  t.deepEqual(records.map((r) => [r.line, r.image, r.answer]), [[1, '/data/a.png', 'B'], [3, '/data/b.png', 'C'], [7, '/abs/d.png', 'B']]);
  t.deepEqual(records[1].options, { A: 'Pneumonia', B: 'Normal', C: 'Effusion' });
  t.is(records[1].question, 'What is shown?');
  t.is(records[0].modality, 'CT');
  t.deepEqual(problems.map((p) => p.line), [2, 5, 6]);
  t.regex(problems[0].message, /not valid JSON/);
  t.regex(problems[1].message, /answer 'Z'/);
  t.regex(problems[2].message, /'image'/);
});

test('answer letters and inline options', (t) => {
  const opts = { A: 'Pneumonia', B: 'Normal' };
  for (const [raw, want] of [['B', 'B'], ['(b)', 'B'], ['A. Pneumonia', 'A'], ['normal', 'B'], [' <answer> A </answer>', 'A']]) {
    t.is(answerLetter(raw, opts), want, raw);
  }
  t.throws(() => answerLetter('C', opts), { message: /not one of the option letters AB/ });
  t.deepEqual(splitInlineOptions('Q line\n(A) one\n(B) two').options, { A: 'one', B: 'two' });
  const limited = parseMcqJsonl([1, 2, 3].map(() => JSON.stringify({ image: 'x', question: 'q', options: ['a', 'b'], answer: 'A' })).join('\n'), '/', { limit: 2 });
  t.is(limited.records.length, 2);
});
