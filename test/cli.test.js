// The CLI end to end on the tiny embedded model: demo, infer, eval (with a bad record).
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { writeTinyModel } from '../dist/index.js';
import { fixture } from './helpers.js';

const run = promisify(execFile);
const gmai = fileURLToPath(new URL('../bin/gmai.js', import.meta.url));
let dir;
test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gmai-cli-'));
  await writeTinyModel(join(dir, 'model'), { seed: 2 });
});

test('gmai demo runs on the embedded default', async (t) => {
  const { stdout } = await run(process.execPath, [gmai, 'demo', '--max-tokens', '12']);
  t.regex(stdout, /parsed: letter=/);
  t.regex(stdout, /tok\/s/);
});

test('gmai infer streams and prints an answer line', async (t) => {
  const { stdout } = await run(process.execPath, [gmai, 'infer', '--model', join(dir, 'model'), '--image', fixture('preprocess', 'xray_gray_xray_512x512.png'),
    '--question', 'Normal?', '--options', 'A=yes', '--options', 'B=no', '--max-tokens', '8']);
  t.regex(stdout, /answer: /);
  t.regex(stdout, /8 tokens|[1-8] tokens/);
  const bad = await run(process.execPath, [gmai, 'infer', '--model', join(dir, 'model')]).catch((e) => e);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /usage: gmai infer/);
});

test('gmai eval writes reports and skips bad records with their line numbers', async (t) => {
  const data = join(dir, 'data.jsonl');
  const img = fixture('preprocess', 'xray_gray_xray_512x512.png');
  writeFileSync(data, [
    JSON.stringify({ image: img, question: 'Normal?', options: { A: 'yes', B: 'no' }, answer: 'A', modality: 'X-ray' }),
    '{broken',
    JSON.stringify({ image: img, conversations: [{ from: 'human', value: '<image>\nWhich?\nA. one\nB. two' }, { from: 'gpt', value: 'B' }], modality: 'CT' }),
    JSON.stringify({ image: join(dir, 'missing.png'), question: 'Q', options: ['a', 'b'], answer: 'A' }),
  ].join('\n'));
  const out = join(dir, 'report');
  const { stdout, stderr } = await run(process.execPath, [gmai, 'eval', '--model', join(dir, 'model'), '--data', data, '--out', out, '--max-tokens', '8', '--samples', '2']);
  t.regex(stderr, /data\.jsonl:2: skipped: not valid JSON/);
  t.regex(stderr, /data\.jsonl:4: skipped: .*missing\.png/);
  t.regex(stdout, /accuracy .* over 2 items \(2 skipped\)/);
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  t.is(report.overall.n, 2);
  t.is(report.items[0].predictions.length, 2);
  t.deepEqual(report.byModality.map((g) => g.name), ['CT', 'X-ray']);
  t.true(existsSync(join(out, 'report.md')) && existsSync(join(out, 'accuracy-by-modality.svg')));
});
