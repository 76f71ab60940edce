// Accuracy reports: overall, per modality and per task; written as report.json, report.md
// and an SVG bar chart of accuracy per modality.
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';

export interface EvalItem {
  line: number;
  modality?: string;
  task?: string;
  answer: string;
  /** Predicted letter of each of the K samples (null when none could be parsed). */
  predictions: (string | null)[];
  formatOk: boolean[];
}

export interface AccuracyGroup {
  name: string;
  n: number;
  /** Mean over items of the fraction of correct samples. */
  accuracy: number;
  /** Fraction of items whose majority vote over samples is correct. */
  majorityAccuracy: number;
  formatRate: number;
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
  if (!items.length) return { name, n: 0, accuracy: 0, majorityAccuracy: 0, formatRate: 0 };
  let acc = 0, maj = 0, fmt = 0;
  for (const it of items) {
    const k = it.predictions.length || 1;
    acc += it.predictions.filter((p) => p === it.answer).length / k;
    maj += majority(it.predictions) === it.answer ? 1 : 0;
    fmt += it.formatOk.filter(Boolean).length / k;
  }
  return { name, n: items.length, accuracy: acc / items.length, majorityAccuracy: maj / items.length, formatRate: fmt / items.length };
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
    '| group | n | accuracy | majority@K | format ok |',
    '|---|---:|---:|---:|---:|',
    ...groups.map((g) => `| ${g.name} | ${g.n} | ${pct(g.accuracy)} | ${pct(g.majorityAccuracy)} | ${pct(g.formatRate)} |`),
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
    '![accuracy per modality](accuracy-by-modality.svg)',
    '',
    `## By task`,
    '',
    table(r.byTask),
    '',
    ...(r.skipped.length ? ['## Skipped records', '', ...r.skipped.map((s) => `- line ${s.line}: ${s.message}`), ''] : []),
  ].join('\n');
}

/** A horizontal bar chart, one bar per group, as a standalone SVG. */
export function accuracyChartSvg(groups: AccuracyGroup[], title: string): string {
  const barH = 22, gap = 8, left = 160, width = 360, top = 36;
  const h = top + groups.length * (barH + gap) + 20;
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const bars = groups.map((g, i) => {
    const y = top + i * (barH + gap);
    const w = Math.max(0, Math.min(1, g.accuracy)) * width;
    return `<text x="${left - 8}" y="${y + barH * 0.7}" text-anchor="end">${esc(g.name)} (n=${g.n})</text>` +
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="#3b7dd8"/>` +
      `<text x="${left + w + 6}" y="${y + barH * 0.7}">${pct(g.accuracy)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 80}" height="${h}" font-family="sans-serif" font-size="13">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>` +
    `<line x1="${left}" y1="${top - 4}" x2="${left}" y2="${h - 16}" stroke="#444"/>` +
    bars.join('') + `</svg>\n`;
}

/** Writes report.json, report.md and accuracy-by-modality.svg into `dir` (atomically each). */
export async function writeReport(dir: string, r: EvalReport): Promise<{ json: string; md: string; svg: string }> {
  const json = join(dir, 'report.json'), md = join(dir, 'report.md'), svg = join(dir, 'accuracy-by-modality.svg');
  await writeFileAtomic(json, JSON.stringify(r, null, 2) + '\n');
  await writeFileAtomic(md, reportMarkdown(r));
  await writeFileAtomic(svg, accuracyChartSvg(r.byModality, 'Accuracy by modality'));
  return { json, md, svg };
}
