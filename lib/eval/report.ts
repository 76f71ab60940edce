// Accuracy reports: overall, per modality and per task; written as report.json, report.md
// and a bar chart of accuracy per modality (SVG, and a PNG rendered from it by sharp).
import { join } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../io/atomic.js';

export interface EvalItem {
  line: number;
  modality?: string;
  task?: string;
  answer: string;
  /** Predicted letter of each of the K samples (null when none could be parsed). */
  predictions: (string | null)[];
  formatOk: boolean[];
  /** Number of answer options (for the chance level). */
  options?: number;
}

export interface AccuracyGroup {
  name: string;
  n: number;
  /** Mean over items of the fraction of correct samples. */
  accuracy: number;
  /** Fraction of items whose majority vote over samples is correct. */
  majorityAccuracy: number;
  formatRate: number;
  /** Accuracy of guessing uniformly (mean of 1/options); null when option counts are unknown. */
  chance: number | null;
}

export interface EvalReport {
  model: string;
  data: string;
  samples: number;
  overall: AccuracyGroup;
  byModality: AccuracyGroup[];
  byTask: AccuracyGroup[];
  skipped: { line: number; message: string }[];
  items: EvalItem[];
  seconds: number;
}

function majority(preds: (string | null)[]): string | null {
  const counts = new Map<string, number>();
  for (const p of preds) if (p) counts.set(p, (counts.get(p) ?? 0) + 1);
  let best: string | null = null, n = 0;
  for (const [k, c] of counts) if (c > n) { best = k; n = c; }
  return best;
}

export function summarise(name: string, items: EvalItem[]): AccuracyGroup {
  if (!items.length) return { name, n: 0, accuracy: 0, majorityAccuracy: 0, formatRate: 0, chance: null };
  let acc = 0, maj = 0, fmt = 0, chance = 0;
  const known = items.every((it) => (it.options ?? 0) > 0);
  for (const it of items) {
    if (known) chance += 1 / it.options!;
    const k = it.predictions.length || 1;
    acc += it.predictions.filter((p) => p === it.answer).length / k;
    maj += majority(it.predictions) === it.answer ? 1 : 0;
    fmt += it.formatOk.filter(Boolean).length / k;
  }
  return { name, n: items.length, accuracy: acc / items.length, majorityAccuracy: maj / items.length, formatRate: fmt / items.length, chance: known ? chance / items.length : null };
}

export function groupBy(items: EvalItem[], key: 'modality' | 'task'): AccuracyGroup[] {
  const groups = new Map<string, EvalItem[]>();
  for (const it of items) {
    const k = it[key] ?? '(none)';
    groups.set(k, [...(groups.get(k) ?? []), it]);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => summarise(k, v));
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function reportMarkdown(r: EvalReport): string {
  const table = (groups: AccuracyGroup[]) => [
    '| group | n | accuracy | majority@K | format ok | chance |',
    '|---|---:|---:|---:|---:|---:|',
    ...groups.map((g) => `| ${g.name} | ${g.n} | ${pct(g.accuracy)} | ${pct(g.majorityAccuracy)} | ${pct(g.formatRate)} | ${g.chance === null ? '–' : pct(g.chance)} |`),
  ].join('\n');
  return [
    `# Evaluation report`,
    '',
    `- model: \`${r.model}\``,
    `- data: \`${r.data}\` (${r.overall.n} items, ${r.samples} sample(s) each, ${r.skipped.length} skipped)`,
    `- time: ${r.seconds.toFixed(1)} s`,
    '',
    `## Overall`,
    '',
    table([r.overall]),
    '',
    `## By modality`,
    '',
    table(r.byModality),
    '',
    '![accuracy per modality](accuracy-by-modality.png)',
    '',
    `## By task`,
    '',
    table(r.byTask),
    '',
    ...(r.skipped.length ? ['## Skipped records', '', ...r.skipped.map((s) => `- line ${s.line}: ${s.message}`), ''] : []),
  ].join('\n');
}

/**
 * A horizontal bar chart, one bar per group on a 0–100 % axis, as a standalone SVG. Each bar sits
 * on a grey track (so a 0 % bar is still seen), is labelled with its group's item count and
 * value, and carries a dashed mark at the group's chance level.
 */
export function accuracyChartSvg(groups: AccuracyGroup[], title: string): string {
  const barH = 22, gap = 10, left = 190, width = 360, top = 44;
  const axisY = top + groups.length * (barH + gap) + 2;
  const h = axisY + 44;
  const x = (v: number) => left + Math.max(0, Math.min(1, v)) * width;
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((v) =>
    `<line class="grid" x1="${x(v)}" y1="${top - 6}" x2="${x(v)}" y2="${axisY}" stroke="#ddd"/>` +
    `<line x1="${x(v)}" y1="${axisY}" x2="${x(v)}" y2="${axisY + 5}" stroke="#444"/>` +
    `<text class="tick" x="${x(v)}" y="${axisY + 18}" text-anchor="middle">${v * 100}%</text>`);
  const bars = groups.map((g, i) => {
    const y = top + i * (barH + gap);
    const w = Math.max(2, x(g.accuracy) - left); // a 2 px sliver at 0 %
    const chance = g.chance === null ? '' :
      `<line class="chance" x1="${x(g.chance).toFixed(1)}" y1="${y - 3}" x2="${x(g.chance).toFixed(1)}" y2="${y + barH + 3}" stroke="#d33" stroke-width="2" stroke-dasharray="4 3"/>`;
    return `<text x="${left - 8}" y="${y + barH * 0.7}" text-anchor="end">${esc(g.name)} (n=${g.n})</text>` +
      `<rect class="track" x="${left}" y="${y}" width="${width}" height="${barH}" fill="#eef1f5"/>` +
      `<rect class="bar" x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="#3b7dd8"/>` + chance +
      `<text x="${left + width + 8}" y="${y + barH * 0.7}">${pct(g.accuracy)}</text>`;
  });
  const legend = groups.some((g) => g.chance !== null)
    ? `<line x1="${left}" y1="${axisY + 32}" x2="${left + 18}" y2="${axisY + 32}" stroke="#d33" stroke-width="2" stroke-dasharray="4 3"/>` +
      `<text x="${left + 24}" y="${axisY + 36}">chance (1 / number of options)</text>`
    : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 70}" height="${h}" font-family="sans-serif" font-size="13">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>` +
    ticks.join('') + bars.join('') +
    `<line x1="${left}" y1="${axisY}" x2="${left + width}" y2="${axisY}" stroke="#444"/>` +
    legend + `</svg>\n`;
}

/** Writes report.json, report.md, accuracy-by-modality.svg and .png into `dir` (atomically each). */
export async function writeReport(dir: string, r: EvalReport): Promise<{ json: string; md: string; svg: string; png: string }> {
  const json = join(dir, 'report.json'), md = join(dir, 'report.md');
  const svg = join(dir, 'accuracy-by-modality.svg'), png = join(dir, 'accuracy-by-modality.png');
  const chart = accuracyChartSvg(r.byModality, 'Accuracy by modality');
  await writeFileAtomic(json, JSON.stringify(r, null, 2) + '\n');
  await writeFileAtomic(md, reportMarkdown(r));
  await writeFileAtomic(svg, chart);
  // librsvg (inside sharp) renders the SVG; 2× density for a sharp image.
  await writeFileAtomic(png, await sharp(Buffer.from(chart), { density: 144 }).png().toBuffer());
  return { json, md, svg, png };
}
