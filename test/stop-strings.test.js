import test from 'ava';
import { StopStringMatcher } from '../dist/infer/stop-strings.js';
import { rng, freshSeed } from './helpers.js';

function run(stops, pieces, kept = []) {
  const m = new StopStringMatcher(stops, kept);
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

test('kept stop strings end the text after them; at one position the left-out kind wins', (t) => {
  t.deepEqual(run([], ['<answer>B</ans', 'wer> tail'], ['</answer>']), { out: '<answer>B</answer>', stop: true });
  t.deepEqual(run(['</'], ['<answer>B</answer>'], ['</answer>']), { out: '<answer>B', stop: true });
  t.deepEqual(run(['>T'], ['<answer>B</answer>T'], ['</answer>']), { out: '<answer>B</answer>', stop: true }, 'the earlier match wins');
  t.throws(() => new StopStringMatcher([], ['']), { message: /must not be empty/ });
});

test('for any chunking, with both kinds, the shown text ends where the first match says', (t) => {
  const seed = freshSeed();
  const r = rng(seed);
  const alphabet = 'ab<>/';
  const stops = ['</a>', 'bb'], kept = ['<<', 'a/', 'bb'];
  for (let trial = 0; trial < 500; trial++) {
    let s = '';
    const n = r.int(30);
    for (let i = 0; i < n; i++) s += alphabet[r.int(alphabet.length)];
    let first = -1, end = -1;
    for (const st of stops) { const i = s.indexOf(st); if (i >= 0 && (first < 0 || i < first)) { first = i; end = i; } }
    for (const st of kept) { const i = s.indexOf(st); if (i >= 0 && (first < 0 || i < first)) { first = i; end = i + st.length; } }
    const expected = first >= 0 ? s.slice(0, end) : s;
    const pieces = [];
    for (let i = 0; i < s.length;) { const k = 1 + r.int(4); pieces.push(s.slice(i, i + k)); i += k; }
    const got = run(stops, pieces, kept);
    if (got.out !== expected || got.stop !== first >= 0) {
      t.fail(`seed ${seed}: '${s}' in ${JSON.stringify(pieces)} gave '${got.out}', expected '${expected}'`);
      return;
    }
  }
  t.pass();
});
