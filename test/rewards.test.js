// The package's rewards (rewards.accuracy, rewards.format) against their reference columns, on
// empty and missing answers, and user reward functions combined with weights (scoreRewards).
import test from 'ava';
import { defaultRewardFunctions, rewards, scoreRewards } from '../dist/index.js';
import { fixture, readJson } from './helpers.js';

const { cases } = readJson(fixture('rewards', 'cases.json'));

test('rewards.accuracy matches accuracy_medvlm_r1 on all 38 reference cases', (t) => {
  t.is(cases.length, 38);
  for (const c of cases) t.is(rewards.accuracy(c.completion, c.solution), c.expected.accuracy_medvlm_r1, `case ${c.id} (${c.note})`);
});

test('rewards.format matches format_mm_eureka on all 38 reference cases', (t) => {
  for (const c of cases) t.is(rewards.format(c.completion), c.expected.format_mm_eureka, `case ${c.id} (${c.note})`);
});

const EMPTY_OR_MISSING = [
  '',
  '   \n',
  '<think>The opacity is in the left half.</think>',                              // no answer block
  '<think>The opacity is in the left half.</think><answer></answer>',             // empty
  '<think>The opacity is in the left half.</think><answer> \n\t </answer>',      // blank
  '<think>The opacity is in the left half.</think>\n<answer>\u3000</answer>',    // ideographic space
  '<think>The opacity is in the left half.</think><answer>',                      // not closed
  '<think>The opacity is in the left half.</think><answer>B',                     // not closed
  '<think>B</think>',                                                             // letter only in the reasoning
  'B </think>',
];

test('neither reward pays an empty or missing answer', (t) => {
  for (const completion of EMPTY_OR_MISSING) {
    for (const solution of ['B', '<answer> B </answer>']) {
      t.is(rewards.accuracy(completion, solution), 0, `accuracy ${JSON.stringify(completion)}`);
    }
    t.is(rewards.format(completion), 0, `format ${JSON.stringify(completion)}`);
  }
  // the same completions with a real answer are paid, so the zeros above are not a constant
  t.is(rewards.accuracy('<think>The opacity is in the left half.</think><answer>B</answer>', 'B'), 1);
  t.is(rewards.format('<think>The opacity is in the left half.</think><answer>B</answer>'), 0.5);
});

test('rewards reject non-string arguments with the argument named', (t) => {
  t.throws(() => rewards.accuracy(undefined, 'B'), { message: /'completion' must be a string, got undefined/ });
  t.throws(() => rewards.accuracy('<answer>B</answer>', null), { message: /'solution' must be a string, got null/ });
  t.throws(() => rewards.format(42), { message: /'completion' must be a string, got number/ });
});

const items = [
  { prompt: 'q0', completion: '<think>left half</think><answer>A</answer>', record: { answer: 'A' } },
  { prompt: 'q1', completion: '<think>right half</think><answer>A</answer>', record: { answer: 'B' } },
  { prompt: 'q2', completion: 'B', record: { answer: 'B' } },
];

test('scoreRewards: per-function rewards and the weighted total', async (t) => {
  const length = { name: 'length', fn: ({ completion }) => completion.length / 100, weight: -0.5 };
  const { perFunction, total } = await scoreRewards([...defaultRewardFunctions(), length], items);
  t.deepEqual(perFunction[0], [1, 0, 0]);  // accuracy: item 2 has no answer block
  t.deepEqual(perFunction[1], [0.5, 0.5, 0]);  // format
  t.deepEqual(perFunction[2], items.map((i) => i.completion.length / 100));
  for (let b = 0; b < items.length; b++) {
    t.is(total[b], perFunction[0][b] + perFunction[1][b] - 0.5 * perFunction[2][b], `item ${b}`);
  }
});

test('scoreRewards: weights scale each function', async (t) => {
  const one = { name: 'one', fn: () => 1, weight: 2 };
  const idx = { name: 'idx', fn: ({ prompt }) => Number(prompt.slice(1)), weight: 0.25 };
  const { perFunction, total } = await scoreRewards([one, idx], items);
  t.deepEqual(perFunction, [[1, 1, 1], [0, 1, 2]]);
  t.deepEqual(total, [2, 2.25, 2.5]);
  const zero = await scoreRewards([{ ...one, weight: 0 }, idx], items);
  t.deepEqual(zero.total, [0, 0.25, 0.5]);
});

test('scoreRewards: async functions, run concurrently, results in item order', async (t) => {
  let running = 0, maxRunning = 0;
  const slow = {
    name: 'judge',
    weight: 1,
    fn: async ({ record }) => {
      running++; maxRunning = Math.max(maxRunning, running);
      // later items finish first: results must still line up with items
      await new Promise((r) => setTimeout(r, 30 - 10 * items.findIndex((i) => i.record === record)));
      running--;
      return record.answer === 'A' ? 1 : -1;
    },
  };
  const { perFunction, total } = await scoreRewards([slow, defaultRewardFunctions()[0]], items);
  t.deepEqual(perFunction[0], [1, -1, -1]);
  t.deepEqual(total, [2, -1, -1]);
  t.is(maxRunning, items.length);
});

test('scoreRewards: a throwing, rejecting or non-finite reward names the function and item', async (t) => {
  const ok = { name: 'ok', fn: () => 1, weight: 1 };
  await t.throwsAsync(scoreRewards([ok, { name: 'boom', weight: 1, fn: ({ prompt }) => { if (prompt === 'q1') throw new Error('judge down'); return 0; } }], items),
    { message: "reward function 'boom' failed on item 1: judge down" });
  await t.throwsAsync(scoreRewards([{ name: 'remote', weight: 1, fn: async () => { throw new Error('HTTP 503'); } }], items),
    { message: "reward function 'remote' failed on item 0: HTTP 503" });
  for (const [bad, shown] of [[NaN, 'NaN'], [Infinity, 'Infinity'], [undefined, 'undefined'], [null, 'null'], ['1', 'the string "1"']]) {
    await t.throwsAsync(scoreRewards([ok, { name: 'bad', weight: 1, fn: async ({ prompt }) => (prompt === 'q2' ? bad : 0) }], items),
      { message: `reward function 'bad' returned ${shown} for item 2; a reward must be a finite number` });
  }
  // a record without the ground truth field fails with both names
  await t.throwsAsync(scoreRewards(defaultRewardFunctions(), [{ prompt: 'p', completion: '<answer>A</answer>', record: {} }]),
    { message: /reward function 'accuracy' failed on item 0: rewards: 'solution' must be a string, got undefined/ });
});

test('scoreRewards: bad function lists are refused with the entry named', async (t) => {
  const fn = () => 0;
  await t.throwsAsync(scoreRewards([], items), { message: /non-empty array/ });
  await t.throwsAsync(scoreRewards([{ name: '', fn, weight: 1 }], items), { message: /functions\[0\]\.name/ });
  await t.throwsAsync(scoreRewards([{ name: 'a', fn, weight: 1 }, { name: 'a', fn, weight: 1 }], items), { message: /'a' is used twice/ });
  await t.throwsAsync(scoreRewards([{ name: 'a', fn: 'nope', weight: 1 }], items), { message: /'a': fn must be a function/ });
  await t.throwsAsync(scoreRewards([{ name: 'a', fn, weight: NaN }], items), { message: /'a': weight must be a finite number, got NaN/ });
  await t.throwsAsync(scoreRewards([{ name: 'a', fn }], items), { message: /'a': weight must be a finite number, got undefined/ });
});
