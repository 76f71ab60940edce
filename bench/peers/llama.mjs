// llama.cpp (through node-llama-cpp, CPU build, no GPU) timing a GGUF written by our model
// benchmark from the same random weights. Prints one JSON object on stdout.
// usage: node bench/peers/llama.mjs FILE.gguf --threads 2 --prompt 512 --decode 32
import { getLlama } from 'node-llama-cpp';
import { version } from './node-llama-version.mjs';

const args = process.argv.slice(2);
const file = args[0];
const opt = (name, d) => { const i = args.indexOf(`--${name}`); return i > 0 ? Number(args[i + 1]) : d; };
const threads = opt('threads', 2), promptLen = opt('prompt', 512), decode = opt('decode', 32);
const vocabLow = 300; // ordinary token ids to feed (any id below the vocabulary size works)

const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
const model = await llama.loadModel({ modelPath: file });
const context = await model.createContext({ contextSize: promptLen + decode + 16, threads, batchSize: promptLen });
const seq = context.getSequence();
const prompt = Array.from({ length: promptLen }, (_, i) => vocabLow + ((i * 7919) % 10000));

let t0 = performance.now();
await seq.evaluateWithoutGeneratingNewTokens(prompt);
const prefillMs = performance.now() - t0;

// Decode: greedy, one token at a time at context ≈ promptLen (sampling included, as in ours).
let n = 0;
t0 = performance.now();
for await (const _ of seq.evaluate([vocabLow], { temperature: 0 })) {
  if (++n >= decode) break;
}
const decodeMs = performance.now() - t0;

console.log(JSON.stringify({
  engine: `llama.cpp via node-llama-cpp ${version}`,
  threads, promptLen, decode,
  prefillTokensPerS: promptLen / (prefillMs / 1000),
  decodeTokensPerS: n / (decodeMs / 1000),
}));
await context.dispose();
await model.dispose();
