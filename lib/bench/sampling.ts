// `gmai bench sampling`: rows per second of the sampling op over a Qwen2.5-VL-sized vocabulary
// (151,936), greedy and temperature 0.7 + top-p 0.9, on two logit shapes:
//  - peaked: N(0, 2²) plus 20 tokens lifted by 8–14, like a trained LM's next-token logits;
//  - flat: N(0, 1), the worst case for top-p (the nucleus spans most of the vocabulary).
// Usage: gmai bench sampling [--rows 16] [--vocab 151936] [--seconds 1] [--json FILE]
import { numberOption, parseCommand, stringOption, type CommandSpec } from '../cli/command.js';

export const samplingBenchCommand: CommandSpec = {
  name: 'bench sampling',
  summary: 'Rows per second of the sampling op over a Qwen2.5-VL-sized vocabulary, greedy and top-p, on peaked and flat logits.',
  options: {
    rows: { type: 'string', value: 'N', description: 'rows per call (default 16)' },
    vocab: { type: 'string', value: 'V', description: 'vocabulary size (default 151936)' },
    seconds: { type: 'string', value: 'S', description: 'time per configuration (default 1)' },
    json: { type: 'string', value: 'FILE', description: 'also write the results as JSON' },
  },
};
import { sample, SamplingParams } from '../ops/sampling.js';
import { runtimeInfo } from '../runtime.js';
import { Tensor } from '../tensor.js';
import { writeJsonAtomic } from './roofline.js';

interface Result { logits: string; config: string; rows: number; vocab: number; rowsPerSecond: number; msPerCall: number }

/** Random logits [rows, vocab]: peaked like a trained LM's, or flat (top-p's worst case). */
export function makeLogits(rows: number, vocab: number, peaked: boolean, seed: number): Tensor<'float32'> {
  let s = seed >>> 0;
  const uniform = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return (s + 0.5) / 4294967296; };
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const data = new Float32Array(rows * vocab);
  for (let i = 0; i < data.length; i++) data[i] = normal() * (peaked ? 2 : 1);
  if (peaked) for (let r = 0; r < rows; r++) for (let k = 0; k < 20; k++) data[r * vocab + Math.floor(uniform() * vocab)] += 8 + 6 * uniform();
  return Tensor.from(data, [rows, vocab]);
}

/** Seconds per `sample` call on `logits`, over about `seconds` of calls. */
export function secondsPerSampleCall(logits: Tensor<'float32'>, params: SamplingParams, seconds: number): number {
  const once = (step: number) => {
    const r = sample(logits, { ...params, step });
    r.tokens.dispose(); r.logprobs.dispose(); r.rawLogprobs.dispose();
  };
  once(0);  // warm-up: scratch buffers, page faults
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    once(++calls);
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return elapsed / calls;
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(samplingBenchCommand, argv);
  if (!args) return 0;
  const rows = numberOption(args, 'rows', 16, { integer: true, min: 1 });
  const vocab = numberOption(args, 'vocab', 151_936, { integer: true, min: 2 });
  const seconds = numberOption(args, 'seconds', 1, { min: 0.001 });
  const configs: [string, SamplingParams][] = [
    ['greedy', { temperature: 0 }],
    ['temperature 0.7, top-p 0.9', { temperature: 0.7, topP: 0.9, seed: 1 }],
  ];
  const results: Result[] = [];
  for (const peaked of [true, false]) {
    const logits = makeLogits(rows, vocab, peaked, 42);
    for (const [config, params] of configs) {
      const perCall = secondsPerSampleCall(logits, params, seconds);
      results.push({ logits: peaked ? 'peaked' : 'flat', config, rows, vocab, rowsPerSecond: rows / perCall, msPerCall: perCall * 1e3 });
    }
    logits.dispose();
  }
  const info = runtimeInfo();
  process.stdout.write(`sampling, vocabulary ${vocab}, ${rows} rows per call, ${info.threads} threads (${info.cpuIsa})\n`);
  process.stdout.write(`${'logits'.padEnd(8)} ${'config'.padEnd(28)} ${'rows/s'.padStart(10)} ${'ms/call'.padStart(9)}\n`);
  for (const r of results) {
    process.stdout.write(`${r.logits.padEnd(8)} ${r.config.padEnd(28)} ${r.rowsPerSecond.toFixed(0).padStart(10)} ${r.msPerCall.toFixed(3).padStart(9)}\n`);
  }
  const json = stringOption(args, 'json');
  if (json) await writeJsonAtomic(json, { bench: 'sampling', threads: info.threads, cpuIsa: info.cpuIsa, results });
  return 0;
}
