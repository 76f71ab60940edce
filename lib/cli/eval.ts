// `gmai eval --model DIR --data FILE.jsonl [--limit N] [--samples K] [--out DIR]`:
// multiple-choice accuracy overall, per modality and per task, with a progress bar, written
// to report.json, report.md and an SVG chart. Bad records are reported and skipped.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadMcqDataset, type McqRecord } from '../eval/dataset.js';
import { groupBy, summarise, writeReport, type EvalItem, type EvalReport } from '../eval/report.js';
import { startModelServer, type ModelServer } from '../infer/server.js';
import { numberOption, option, parseArgs } from './args.js';
import { ProgressBar } from './progress.js';

export const evalUsage = 'usage: gmai eval --model DIR --data FILE.jsonl [--limit N] [--samples K] [--out DIR] [--max-tokens N] [--temperature T] [--concurrency C]';

async function evaluateRecord(server: ModelServer, r: McqRecord, samples: number, maxNewTokens: number, temperature: number): Promise<EvalItem> {
  const res = await server.askImage({
    image: r.image, question: r.question, options: r.options,
    generation: { maxNewTokens, temperature: samples > 1 && temperature === 0 ? 0.7 : temperature, numReturnSequences: samples, seed: r.line },
  });
  return { line: r.line, modality: r.modality, task: r.task, answer: r.answer, predictions: res.samples.map((s) => s.letter), formatOk: res.samples.map((s) => s.formatOk) };
}

export async function evaluate(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const model = option(args, 'model'), data = option(args, 'data');
  if (!model || !data) { process.stderr.write(`${evalUsage}\n`); return 2; }
  const limit = option(args, 'limit') !== undefined ? numberOption(args, 'limit', 0) : undefined;
  const samples = numberOption(args, 'samples', 1);
  const outDir = resolve(option(args, 'out') ?? 'eval-report');
  const maxNewTokens = numberOption(args, 'max-tokens', 1024);
  const temperature = numberOption(args, 'temperature', 0);
  const concurrency = Math.max(1, numberOption(args, 'concurrency', 4));
  const { records, problems } = loadMcqDataset(data, { limit });
  for (const p of problems) process.stderr.write(`${data}:${p.line}: skipped: ${p.message}\n`);
  if (!records.length) { process.stderr.write('no usable records\n'); return 1; }
  const server = await startModelServer(model);
  const t0 = performance.now();
  const items: EvalItem[] = [];
  const skipped = [...problems];
  const bar = new ProgressBar(records.length, 'eval');
  try {
    // A few records in flight at once: their decode steps are batched in the worker.
    let next = 0;
    const workerLoop = async () => {
      while (next < records.length) {
        const r = records[next++];
        try {
          items.push(await evaluateRecord(server, r, samples, maxNewTokens, temperature));
        } catch (e) {
          skipped.push({ line: r.line, message: (e as Error).message });
          process.stderr.write(`\n${data}:${r.line}: skipped: ${(e as Error).message}\n`);
        }
        const acc = summarise('so far', items).accuracy;
        bar.tick(1, `acc ${(100 * acc).toFixed(1)}%`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, workerLoop));
    bar.finish();
  } finally {
    await server.close();
  }
  items.sort((a, b) => a.line - b.line);
  const report: EvalReport = {
    model, data, samples, overall: summarise('overall', items),
    byModality: groupBy(items, 'modality'), byTask: groupBy(items, 'task'),
    skipped: skipped.sort((a, b) => a.line - b.line), items, seconds: (performance.now() - t0) / 1000,
  };
  mkdirSync(outDir, { recursive: true });
  const paths = await writeReport(outDir, report);
  const o = report.overall;
  process.stdout.write(`accuracy ${(100 * o.accuracy).toFixed(1)}% over ${o.n} items (${report.skipped.length} skipped); format ok ${(100 * o.formatRate).toFixed(1)}%\n`);
  for (const g of report.byModality) process.stdout.write(`  ${g.name.padEnd(16)} ${(100 * g.accuracy).toFixed(1).padStart(5)}%  (n=${g.n})\n`);
  process.stdout.write(`report: ${paths.md}\n`);
  return 0;
}
