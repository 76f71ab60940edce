// `gmai bench generate [--json FILE] [--batches 1,8,32] [--prompt 128] [--decode 32]
//                      [--ttft 1024] [--no-peers]`:
// generation on the Qwen2.5-0.5B decoder shape (random bf16 weights), through the real engine
// (lib/infer/engine.ts with the model backend and the native sampler, temperature 0.7, top-p
// 0.9), against llama.cpp on a GGUF of the same weights in the same run:
//  - aggregate decode tokens/s with B sequences decoding together (ours: one prefill forked
//    into B samples, the GRPO rollout shape; llama.cpp: B sequences of one context);
//  - time to first token for a 1,024-token prompt;
//  - the sampling kernel alone (rows/s at a 151,936 vocabulary, top-p 0.9) and its share of
//    a decode step (it must stay under 5%).
//  - 8 concurrent requests (own prompts, prefill included) against the same 8 in sequence.
// Runs in this CLI process (benchmark use), printing progress on stderr.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numberOption, parseCommand, stringOption, type CommandSpec } from '../cli/command.js';
import { GenerationEngine, type SamplingParams } from '../infer/engine.js';
import { ModelBackend, nativeSampler } from '../infer/model-backend.js';
import { loadModel, type Model } from '../model/model.js';
import type { ModelInputs } from '../model/inputs.js';
import { runtimeInfo } from '../runtime.js';
import { havePeers, PEERS_HINT, QWEN25_05B, randomIds, runPeer, writeQwen05b, writeTextGguf } from './qwen-text.js';
import { formatTable, writeJsonAtomic } from './roofline.js';
import { makeLogits, secondsPerSampleCall } from './sampling.js';

export const generateBenchCommand: CommandSpec = {
  name: 'bench generate',
  summary: 'Generation on the Qwen2.5-0.5B decoder shape through the real engine, against llama.cpp on the same weights.',
  options: {
    batches: { type: 'string', value: 'LIST', description: 'sequences decoding together (default 1,8,32)' },
    prompt: { type: 'string', value: 'N', description: 'prompt tokens (default 128)' },
    decode: { type: 'string', value: 'N', description: 'decoded tokens (default 32)' },
    ttft: { type: 'string', value: 'N', description: 'prompt tokens of the time-to-first-token case (default 1024)' },
    'no-peers': { type: 'boolean', description: 'skip llama.cpp' },
    json: { type: 'string', value: 'FILE', description: 'also write the results as JSON' },
  },
};

const SAMPLING: SamplingParams = { temperature: 0.7, topP: 0.9, seed: 1 };
const silentDecoder = () => ({ push: () => '', flush: () => '' });

interface Row { what: string; batch?: number; engine: string; ms: number; tokensPerS?: number; ratio?: number; note?: string }

/** One generation of `batch` samples from one prompt; decode-phase time and tokens. */
async function timeBatch(engine: GenerationEngine<ModelInputs>, prompt: Int32Array, batch: number, decode: number): Promise<{ ms: number; tokens: number }> {
  let first = 0;
  const seqs = await engine.generate({
    prompt: { inputIds: prompt }, maxNewTokens: decode, stopTokenIds: [], numReturnSequences: batch, sampling: SAMPLING,
  }, () => { if (!first) first = performance.now(); });
  // The first token of every sample comes from the prefill; the decode phase is the rest.
  return { ms: performance.now() - first, tokens: seqs.reduce((n, s) => n + s.tokens.length - 1, 0) };
}

async function timeFirstToken(engine: GenerationEngine<ModelInputs>, prompt: Int32Array): Promise<number> {
  const t0 = performance.now();
  await engine.generate({ prompt: { inputIds: prompt }, maxNewTokens: 1, stopTokenIds: [], sampling: SAMPLING });
  return performance.now() - t0;
}

interface PeerResult { engine: string; results: { batch: number; ms: number; tokensPerS: number }[]; ttftMs: number }

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(generateBenchCommand, argv);
  if (!args) return 0;
  const batches = (stringOption(args, 'batches') ?? '1,8,32').split(',').map(Number);
  const promptLen = numberOption(args, 'prompt', 128, { integer: true, min: 1 }), decode = numberOption(args, 'decode', 32, { integer: true, min: 1 });
  const ttftLen = numberOption(args, 'ttft', 1024, { integer: true, min: 1 });
  const peers = args['no-peers'] !== true;
  const say = (s: string) => process.stderr.write(`${s}\n`);
  const info = runtimeInfo();
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'gmai-bench-generate-'));
  let model: Model | undefined;
  try {
    say('writing random bf16 weights of Qwen2.5-0.5B (≈1 GB) …');
    const textDir = await writeQwen05b(join(dir, 'text'));
    model = await loadModel(textDir);
    const engine = new GenerationEngine<ModelInputs>(new ModelBackend(model), nativeSampler, silentDecoder);
    const prompt = randomIds(promptLen, 1);
    await timeBatch(engine, prompt, 1, 4); // warm-up: page in the weights, thread pool, scratch
    const stepMs = new Map<number, number>();
    for (const batch of batches) {
      say(`ours: ${batch} sample(s) × ${decode} tokens after a ${promptLen}-token prompt …`);
      let best = Infinity, tokens = 0;
      for (let rep = 0; rep < 2; rep++) {
        const r = await timeBatch(engine, prompt, batch, decode);
        if (r.ms < best) { best = r.ms; tokens = r.tokens; }
      }
      stepMs.set(batch, best / (tokens / batch));
      rows.push({ what: 'decode', batch, engine: 'gmai', ms: best, tokensPerS: tokens / (best / 1000) });
    }
    // Continuous batching: 8 requests with their own prompts, all at once vs one after another.
    say('ours: 8 requests at once, then the same 8 one after another …');
    const requests = Array.from({ length: 8 }, (_, i) => randomIds(promptLen, 100 + i));
    const one = (ids: Int32Array) => engine.generate({ prompt: { inputIds: ids }, maxNewTokens: decode, stopTokenIds: [], sampling: SAMPLING });
    let t0 = performance.now();
    await Promise.all(requests.map(one));
    const concurrentMs = performance.now() - t0;
    t0 = performance.now();
    for (const ids of requests) await one(ids);
    const sequentialMs = performance.now() - t0;
    rows.push({ what: '8 requests, one after another', engine: 'gmai', ms: sequentialMs, tokensPerS: (8 * decode) / (sequentialMs / 1000) });
    rows.push({ what: '8 requests at once (batched steps)', engine: 'gmai', ms: concurrentMs, tokensPerS: (8 * decode) / (concurrentMs / 1000),
      note: `${(sequentialMs / concurrentMs).toFixed(2)}× faster than one after another` });

    say(`ours: time to first token, ${ttftLen}-token prompt …`);
    const ttft = Math.min(await timeFirstToken(engine, randomIds(ttftLen, 2)), await timeFirstToken(engine, randomIds(ttftLen, 3)));
    rows.push({ what: `first token, ${ttftLen}-token prompt`, engine: 'gmai', ms: ttft });

    // The sampling kernel alone on trained-LM-like logits, and its share of a decode step.
    say('sampling kernel alone …');
    for (const batch of [1, Math.max(...batches)]) {
      const logits = makeLogits(batch, QWEN25_05B.vocab, true, 7);
      const ms = secondsPerSampleCall(logits, SAMPLING, 1) * 1000;
      logits.dispose();
      const step = stepMs.get(batch);
      rows.push({ what: 'sampling kernel (top-p 0.9)', batch, engine: 'gmai', ms, tokensPerS: batch / (ms / 1000),
        note: step ? `${((100 * ms) / step).toFixed(1)}% of a decode step` : undefined });
    }
    model.dispose();
    model = undefined;

    if (peers && !havePeers()) say(PEERS_HINT);
    if (peers && havePeers()) {
      say('llama.cpp: writing a BF16 GGUF of the same weights and timing it …');
      const gguf = join(dir, 'text-bf16.gguf');
      writeTextGguf(textDir, QWEN25_05B, 'bf16', gguf);
      rmSync(textDir, { recursive: true, force: true });
      const r = await runPeer<PeerResult>('llama-generate.mjs', [gguf, '--threads', String(info.threads), '--batches', batches.join(','),
        '--prompt', String(promptLen), '--decode', String(decode), '--ttft', String(ttftLen),
        '--temperature', String(SAMPLING.temperature), '--top-p', String(SAMPLING.topP)]);
      if (typeof r === 'string') say(r);
      else {
        for (const p of r.results) {
          const ours = rows.find((x) => x.what === 'decode' && x.batch === p.batch)!;
          ours.ratio = ours.tokensPerS! / p.tokensPerS;
          rows.push({ what: 'decode', batch: p.batch, engine: r.engine, ms: p.ms, tokensPerS: p.tokensPerS });
        }
        const ours = rows.find((x) => x.what.startsWith('first token'))!;
        ours.ratio = r.ttftMs / ours.ms;
        rows.push({ what: ours.what, engine: r.engine, ms: r.ttftMs });
      }
    }
  } finally {
    model?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  const f = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? '' : x.toFixed(d));
  process.stdout.write(`\nGeneration, Qwen2.5-0.5B shape (bf16 weights), ${info.threads} threads (${info.cpuIsa}); ` +
    `temperature ${SAMPLING.temperature}, top-p ${SAMPLING.topP}; decode after a ${promptLen}-token prompt, ${decode} tokens per sequence\n\n`);
  process.stdout.write(formatTable(['what', 'batch', 'engine', 'ms', 'tokens (rows)/s', 'ours ÷ llama.cpp', 'note'],
    rows.map((r) => [r.what, r.batch ?? '', r.engine, f(r.ms, 2), f(r.tokensPerS), f(r.ratio, 2), r.note ?? ''])));
  const json = stringOption(args, 'json');
  if (json) await writeJsonAtomic(json, rows.map((r) => ({ kernel: r.engine, ...r, threads: info.threads, isa: info.cpuIsa })));
  return 0;
}
