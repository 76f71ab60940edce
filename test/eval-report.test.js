import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarise, groupBy, writeReport } from '../dist/eval/report.js';

const items = [
  { line: 1, modality: 'CT', answer: 'A', predictions: ['A', 'A', 'B'], formatOk: [true, true, false] },
  { line: 2, modality: 'CT', answer: 'B', predictions: ['C', null, 'C'], formatOk: [true, false, true] },
  { line: 3, modality: 'X-ray', task: 'dx', answer: 'C', predictions: ['C', 'C', 'C'], formatOk: [true, true, true] },
];

test('accuracy, majority vote and format rate per group', (t) => {
  const all = summarise('overall', items);
  t.is(all.n, 3);
  t.true(Math.abs(all.accuracy - (2 / 3 + 0 + 1) / 3) < 1e-12);
  t.true(Math.abs(all.majorityAccuracy - 2 / 3) < 1e-12);
  t.true(Math.abs(all.formatRate - (2 / 3 + 2 / 3 + 1) / 3) < 1e-12);
  const byMod = groupBy(items, 'modality');
  t.deepEqual(byMod.map((g) => [g.name, g.n]), [['CT', 2], ['X-ray', 1]]);
  t.deepEqual(groupBy(items, 'task').map((g) => g.name), ['(none)', 'dx']);
});

test('report files are written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-report-'));
  const report = {
    model: 'm', data: 'd.jsonl', samples: 3, overall: summarise('overall', items),
    byModality: groupBy(items, 'modality'), byTask: groupBy(items, 'task'),
    skipped: [{ line: 9, message: 'bad' }], items, seconds: 1.5,
  };
  const paths = await writeReport(dir, report);
  t.deepEqual(JSON.parse(readFileSync(paths.json, 'utf8')).overall, report.overall);
  const md = readFileSync(paths.md, 'utf8');
  t.regex(md, /\| CT \| 2 \| 33\.3% \| 50\.0% \| 66\.7% \|/);
  t.regex(md, /line 9: bad/);
  const svg = readFileSync(paths.svg, 'utf8');
  t.regex(svg, /^<svg/);
  t.regex(svg, /X-ray \(n=1\)/);
});
