import test from 'ava';
import { StopStringMatcher } from '../dist/infer/stop-strings.js';
import { rng, freshSeed } from './helpers.js';

function run(stops, pieces) {
  const m = new StopStringMatcher(stops);
  let out = '';
  for (const p of pieces) {
    const r = m.push(p);
    out += r.text;
    if (r.stop) return { out, stop: true };
  }
  return { out: out + m.flush(), stop: false };
}

test('stops at the first stop string, across chunk boundaries', (t) => {
  t.deepEqual(run(['</answer>'], ['<answer>B</ans', 'wer> tail']), { out: '<answer>B', stop: true });
  t.deepEqual(run(['STOP', 'ST'], ['aST', 'OP']), { out: 'a', stop: true });
  t.deepEqual(run(['xyz'], ['abc', 'xy']), { out: 'abcxy', stop: false }, 'held text is flushed at the end');
});

test('for any chunking the shown text equals the text before the first stop', (t) => {
  const seed = freshSeed();
  const r = rng(seed);
  const alphabet = 'ab<>/';
  const stops = ['</a>', 'bb', '<<'];
  for (let trial = 0; trial < 500; trial++) {
    let s = '';
    const n = r.int(30);
    for (let i = 0; i < n; i++) s += alphabet[r.int(alphabet.length)];
    let first = -1;
    for (const st of stops) { const i = s.indexOf(st); if (i >= 0 && (first < 0 || i < first)) first = i; }
    const expected = first >= 0 ? s.slice(0, first) : s;
    const pieces = [];
    for (let i = 0; i < s.length;) { const k = 1 + r.int(4); pieces.push(s.slice(i, i + k)); i += k; }
    const got = run(stops, pieces);
    if (got.out !== expected || got.stop !== first >= 0) {
      t.fail(`seed ${seed}: '${s}' in ${JSON.stringify(pieces)} gave '${got.out}', expected '${expected}'`);
      return;
    }
  }
  t.pass();
});
