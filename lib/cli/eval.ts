// `gmai eval --model DIR --data FILE.jsonl [--limit N] [--samples K] [--out DIR]`:
// multiple-choice accuracy overall, per modality and per task, with a progress bar, written
// to report.json, report.md and an SVG chart. Bad records are reported and skipped.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadMcqDataset, type McqRecord } from '../eval/dataset.js';
import { groupBy, summarise, writeReport, type EvalItem, type EvalReport } from '../eval/report.js';
import { startModelServer, type ModelServer } from '../infer/server.js';
import { numberOption, parseCommand, stringOption, type CommandSpec } from './command.js';
import { ProgressBar } from './progress.js';

export const evalCommand: CommandSpec = {
  name: 'eval',
  summary: 'Multiple-choice accuracy over a JSONL data set, overall, per modality and per task; writes report.json, report.md and charts (SVG and PNG).',
  required: ['model', 'data'],
  options: {
    model: { type: 'string', value: 'DIR', description: 'model folder' },
    data: { type: 'string', value: 'FILE.jsonl', description: '{image, question, options, answer, modality?, task?} or conversations records' },
    limit: { type: 'string', value: 'N', description: 'first N records only' },
    samples: { type: 'string', value: 'K', description: 'answers sampled per record (default 1)' },
    out: { type: 'string', value: 'DIR', description: 'report folder (default eval-report)' },
    'max-tokens': { type: 'string', value: 'N', description: 'longest answer in tokens (default 1024)' },
    temperature: { type: 'string', value: 'T', description: 'sampling temperature, 0 = greedy (default 0; 0.7 when --samples > 1)' },
    concurrency: { type: 'string', value: 'C', description: 'records in flight, decoded together (default 4)' },
  },
  notes: 'Images smaller than the model\'s minimum side (28 px) are upscaled, with a one-line warning.',
};

async function evaluateRecord(server: ModelServer, r: McqRecord, samples: number, maxNewTokens: number, temperature: number): Promise<EvalItem> {
  const res = await server.askImage({
    image: r.image, question: r.question, options: r.options,
    generation: { maxNewTokens, temperature: samples > 1 && temperature === 0 ? 0.7 : temperature, numReturnSequences: samples, seed: r.line },
  });
  return { line: r.line, modality: r.modality, task: r.task, answer: r.answer, options: Object.keys(r.options).length, predictions: res.samples.map((s) => s.letter), formatOk: res.samples.map((s) => s.formatOk) };
}

export async function evaluate(argv: string[]): Promise<number> {
  const v = parseCommand(evalCommand, argv);
  if (!v) return 0;
  const model = stringOption(v, 'model')!, data = stringOption(v, 'data')!;
  const limit = numberOption(v, 'limit', undefined, { integer: true, min: 1 });
  const samples = numberOption(v, 'samples', 1, { integer: true, min: 1, max: 64 });
  const outDir = resolve(stringOption(v, 'out') ?? 'eval-report');
  const maxNewTokens = numberOption(v, 'max-tokens', 1024, { integer: true, min: 1 });
  const temperature = numberOption(v, 'temperature', 0, { min: 0 });
  const concurrency = numberOption(v, 'concurrency', 4, { integer: true, min: 1 });
  const { records, problems } = loadMcqDataset(data, { limit });
  for (const p of problems) process.stderr.write(`${data}:${p.line}: skipped: ${p.message}\n`);
  if (!records.length) { process.stderr.write('no usable records\n'); return 1; }
  const server = await startModelServer(model);
  const t0 = performance.now();
  const items: EvalItem[] = [];
  const skipped = [...problems];
  // The bar counts every line of the file, so its last count is the final line's items + skipped.
  const bar = new ProgressBar(records.length + problems.length, 'eval');
  bar.tick(problems.length);
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
          bar.interrupt(`${data}:${r.line}: skipped: ${(e as Error).message}`);
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
