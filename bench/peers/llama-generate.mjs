// llama.cpp (node-llama-cpp, CPU build) generation throughput for `gmai bench generate`, on a
// GGUF written from the same random weights as ours. Prints one JSON object on stdout:
//  - for each batch size B: B sequences in one context, each pre-filled with the prompt, then
//    D tokens each, all decoding concurrently (node-llama-cpp puts the sequences' pending
//    tokens in one llama_decode batch); aggregate tokens/s over the decode phase;
//  - time to first token for a T-token prompt (prefill + first sampled token).
// usage: node bench/peers/llama-generate.mjs FILE.gguf --threads 2 --batches 1,8,32 --prompt 128
//        --decode 32 --ttft 1024 --temperature 0.7 --top-p 0.9
import { getLlama } from 'node-llama-cpp';
import { version } from './node-llama-version.mjs';

const args = process.argv.slice(2);
const file = args[0];
const opt = (name, d) => { const i = args.indexOf(`--${name}`); return i > 0 ? args[i + 1] : d; };
const threads = Number(opt('threads', 2)), promptLen = Number(opt('prompt', 128)), decode = Number(opt('decode', 32));
const ttftLen = Number(opt('ttft', 1024));
const batches = String(opt('batches', '1,8,32')).split(',').map(Number);
const sampling = { temperature: Number(opt('temperature', 0.7)), topP: Number(opt('top-p', 0.9)), seed: 1 };
const token = (i) => 300 + ((i * 7919) % 10000); // ordinary ids

const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath: file });
const prompt = Array.from({ length: promptLen }, (_, i) => token(i));

const results = [];
for (const B of batches) {
  const context = await model.createContext({ sequences: B, contextSize: B * (promptLen + decode + 16), threads, batchSize: Math.max(512, promptLen) });
  const seqs = Array.from({ length: B }, () => context.getSequence());
  for (const s of seqs) await s.evaluateWithoutGeneratingNewTokens(prompt);
  const t0 = performance.now();
  await Promise.all(seqs.map(async (s) => {
    let n = 0;
    for await (const _ of s.evaluate([token(promptLen)], sampling)) if (++n >= decode) break;
  }));
  const ms = performance.now() - t0;
  results.push({ batch: B, decodeTokens: B * decode, ms, tokensPerS: (B * decode) / (ms / 1000) });
  await context.dispose();
}

const context = await model.createContext({ contextSize: ttftLen + 16, threads, batchSize: ttftLen });
const seq = context.getSequence();
const t0 = performance.now();
for await (const _ of seq.evaluate(Array.from({ length: ttftLen }, (_, i) => token(i)), sampling)) break;
const ttftMs = performance.now() - t0;
await context.dispose();
await model.dispose();
console.log(JSON.stringify({ engine: `llama.cpp via node-llama-cpp ${version}`, threads, promptLen, decode, results, ttftPrompt: ttftLen, ttftMs }));
