import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarise, groupBy, writeReport, accuracyChartSvg } from '../dist/eval/report.js';

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

test('the chart: 0–100 % axis, a visible bar at 0 %, n per modality, chance line, and a PNG rendered from the SVG', async (t) => {
  const sharp = (await import('sharp')).default;
  const withOptions = [
    { line: 1, modality: 'CT', answer: 'A', predictions: ['B'], formatOk: [true], options: 4 },
    { line: 2, modality: 'CT', answer: 'A', predictions: ['C'], formatOk: [true], options: 4 },
    { line: 3, modality: 'MRI', answer: 'B', predictions: ['B'], formatOk: [true], options: 2 },
  ];
  const groups = groupBy(withOptions, 'modality');
  t.deepEqual(groups.map((g) => [g.name, g.accuracy, g.chance]), [['CT', 0, 0.25], ['MRI', 1, 0.5]]);
  const svg = accuracyChartSvg(groups, 'Accuracy by modality');
  for (const tick of ['0%', '25%', '50%', '75%', '100%']) t.true(svg.includes(`>${tick}</text>`), tick);
  const bars = [...svg.matchAll(/<rect class="bar" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[2]));
  const track = Number(/<rect class="track" x="[\d.]+" y="[\d.]+" width="([\d.]+)"/.exec(svg)[1]);
  t.is(bars.length, 2);
  t.true(bars[0] >= 2, 'the 0 % bar is still drawn');
  t.is(bars[1], track, 'the 100 % bar spans the axis');
  t.regex(svg, /CT \(n=2\)/);
  t.regex(svg, /MRI \(n=1\)/);
  const left = Number(/<rect class="track" x="([\d.]+)"/.exec(svg)[1]);
  const chanceX = [...svg.matchAll(/<line class="chance" x1="([\d.]+)"/g)].map((m) => Number(m[1]));
  t.deepEqual(chanceX, [left + 0.25 * track, left + 0.5 * track]);
  t.regex(svg, /chance \(1 \/ number of options\)/);

  const dir = mkdtempSync(join(tmpdir(), 'gmai-chart-'));
  const report = { model: 'm', data: 'd', samples: 1, overall: summarise('overall', withOptions), byModality: groups, byTask: [], skipped: [], items: withOptions, seconds: 1 };
  const paths = await writeReport(dir, report);
  const png = readFileSync(paths.png);
  t.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  const meta = await sharp(png).metadata();
  const svgWidth = Number(/<svg[^>]* width="(\d+)"/.exec(svg)[1]);
  t.is(meta.width, svgWidth * 2, 'rendered at 2× the SVG size');
  // the 0 % row's track is drawn (light grey), not left white
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const trackY = Number(/<rect class="track" x="[\d.]+" y="([\d.]+)"/.exec(svg)[1]);
  const px = (x, y) => { const o = (Math.round(y * 2) * info.width + Math.round(x * 2)) * info.channels; return [data[o], data[o + 1], data[o + 2]]; };
  t.deepEqual(px(left + track * 0.8, trackY + 11), [0xee, 0xf1, 0xf5]);
  t.not(px(left + 1, trackY + 11).join(), [255, 255, 255].join(), 'the 0 % sliver is painted');
});
