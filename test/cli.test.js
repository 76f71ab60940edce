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
  t.regex(bad.stderr, /option --image is required[\s\S]*gmai infer --help/);
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

const fails = (args) => run(process.execPath, [gmai, ...args]).then(() => { throw new Error(`gmai ${args.join(' ')} succeeded`); }, (e) => e);

test('every command prints its usage for --help and -h and exits 0; gmai help <command> too', async (t) => {
  for (const cmd of ['infer', 'eval', 'demo', 'serve']) {
    for (const flag of ['--help', '-h']) {
      const { stdout } = await run(process.execPath, [gmai, cmd, flag]);
      t.regex(stdout, new RegExp(`^usage: gmai ${cmd} `), `${cmd} ${flag}`);
      t.notRegex(stdout, /parsed: letter=/, 'the demo did not run');
    }
  }
  const { stdout } = await run(process.execPath, [gmai, 'help', 'infer']);
  t.regex(stdout, /^usage: gmai infer /);
  t.regex(stdout, /--frame N +frame of a multi-frame DICOM, counting from 0/);
});

test('unknown options are errors with a did-you-mean; unknown commands too', async (t) => {
  const e = await fails(['infer', '--modle', 'x', '--image', 'y', '--question', 'q']);
  t.is(e.code, 2);
  t.regex(e.stderr, /unknown option --modle \(did you mean '--model'\?\)/);
  t.regex(e.stderr, /gmai infer --help/);
  const c = await fails(['infre']);
  t.is(c.code, 2);
  t.regex(c.stderr, /unknown command 'infre' \(did you mean 'infer'\?\)/);
});

test('option values are checked before the model loads', async (t) => {
  const base = ['infer', '--model', join(dir, 'no-such-model'), '--image', 'x.png', '--question', 'q'];
  for (const [extra, message] of [
    [['--window', '40'], /--window must be CENTER,WIDTH/],
    [['--window', '40,0'], /--window must be CENTER,WIDTH/],
    [['--max-tokens', 'ten'], /--max-tokens must be an integer, got 'ten'/],
    [['--frame=-1'], /--frame must be at least 0/],
    [['--temperature'], /--temperature needs a value/],
  ]) {
    const e = await fails([...base, ...extra]);
    t.is(e.code, 2, extra.join(' '));
    t.regex(e.stderr, message);
    t.notRegex(e.stderr, /loading/, 'no model load was started');
  }
  const missing = await fails(['eval', '--model', 'm']);
  t.regex(missing.stderr, /option --data is required/);
  // gmai demo train keeps its last 400 train questions for GRPO, so SFT needs more than that
  const few = await fails(['demo', 'train', '--output', join(dir, 'no-demo'), '--train', '60']);
  t.is(few.code, 2);
  t.regex(few.stderr, /--train must be at least 401, got 60/);
});

test('gmai infer prints only displayable text (no U+FFFD or control characters) and the finish reason', async (t) => {
  const { stdout } = await run(process.execPath, [gmai, 'infer', '--model', join(dir, 'model'), '--image', fixture('preprocess', 'xray_gray_xray_512x512.png'),
    '--question', 'Normal?', '--options', 'A=yes', '--options', 'B=no', '--max-tokens', '24', '--temperature', '1', '--seed', '3']);
  t.false(stdout.includes('\uFFFD'));
  t.notRegex(stdout, /[\u0000-\u0008\u000b-\u001f\u007f]/);
  t.regex(stdout, /finish: (stop|length)/);
});

test('gmai eval: the last progress line is printed once and agrees with the final count', async (t) => {
  const data = join(dir, 'data-progress.jsonl');
  const img = fixture('preprocess', 'xray_gray_xray_512x512.png');
  writeFileSync(data, [
    JSON.stringify({ image: img, question: 'Normal?', options: { A: 'yes', B: 'no' }, answer: 'A', modality: 'X-ray' }),
    '{broken',
    JSON.stringify({ image: join(dir, 'missing.png'), question: 'Q', options: ['a', 'b'], answer: 'A' }),
  ].join('\n'));
  const { stdout, stderr } = await run(process.execPath, [gmai, 'eval', '--model', join(dir, 'model'), '--data', data, '--out', join(dir, 'report-progress'), '--max-tokens', '4']);
  const last = stderr.split('\n').filter((l) => /^eval 3\/3 /.test(l));
  t.is(last.length, 1, stderr);
  t.regex(stdout, /over 1 items \(2 skipped\)/);
});

test('a JPEG 2000 DICOM through gmai infer: the codec\'s [INFO] lines do not reach stdout', async (t) => {
  const { stdout } = await run(process.execPath, [gmai, 'infer', '--model', join(dir, 'model'), '--image', fixture('dicom', 'JPEG2000', 'JPEG2000.dcm'),
    '--question', 'Normal?', '--options', 'A=yes', '--options', 'B=no', '--max-tokens', '2']);
  t.notRegex(stdout, /\[INFO\]/);
  t.regex(stdout, /answer: /);
});

test('small images are upscaled by infer (with a one-line warning on stderr)', async (t) => {
  const small = join(dir, 'small.png');
  const sharp = (await import('sharp')).default;
  await sharp(Buffer.alloc(3 * 10 * 3, 128), { raw: { width: 10, height: 3, channels: 3 } }).png().toFile(small);
  const { stdout, stderr } = await run(process.execPath, [gmai, 'infer', '--model', join(dir, 'model'), '--image', small, '--question', 'Q?', '--options', 'A=a', '--options', 'B=b', '--max-tokens', '2']);
  t.regex(stdout, /answer: /);
  t.regex(stderr, /gmai: .*small\.png is 10×3 pixels, below the model's minimum side of 28: upscaled to 93×28/);
});

test('gmai bench serve runs both paths and reports every column (smoke run: figures not checked)', async (t) => {
  const json = join(dir, 'bench-serve.json');
  const { stdout } = await run(process.execPath, [gmai, 'bench', 'serve', '--clients', '1,2', '--requests', '2', '--max-tokens', '2', '--json', json]);
  t.regex(stdout, /\| HTTP \(openai format, SSE\) \| 2 \|/);
  t.regex(stdout, /\| in-process API \| 2 \|/);
  const r = JSON.parse(readFileSync(json, 'utf8'));
  t.is(r.rows.length, 4);
  for (const row of r.rows) t.true(row.requestsPerS > 0 && row.ttftP50Ms > 0 && row.ttftP99Ms >= row.ttftP50Ms, JSON.stringify(row));
  t.true(r.rows.filter((row) => row.path.startsWith('HTTP')).every((row) => row.serverLoopDelayP99Ms > 0));
  const help = await run(process.execPath, [gmai, 'bench', 'serve', '--help']);
  t.regex(help.stdout, /^usage: gmai bench serve /);
});
