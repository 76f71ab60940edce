// Resident memory after loading a bf16 checkpoint is about its size, not twice it: weights stay
// bf16, copied once into the package's own memory (default; the file mapping is released after
// load) or left memory-mapped (mmap: true); nothing is widened. The checkpoint is written by a
// child process so this process's heap does not hold (or reuse) it.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../dist/index.js';
import { qwenVlConfig, TINY_VISION } from '../dist/bench/qwen-text.js';

// ~86 MB of bf16 weights: big next to the interpreter's own noise, small for CI.
const SHAPE = { hidden: 512, layers: 8, heads: 8, kvHeads: 2, intermediate: 1408, vocab: 32000, tied: false, ropeTheta: 1e6, rmsEps: 1e-6 };

for (const mmap of [false, true]) {
  test.serial(`resident memory after load and a forward ≈ checkpoint size (bf16 stays bf16, ${mmap ? 'memory-mapped' : 'copied once'})`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gmai-rss-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const config = JSON.stringify({ ...qwenVlConfig(SHAPE, TINY_VISION), vocab_size: SHAPE.vocab, bos_token_id: 1, eos_token_id: 2, image_token_id: 31990, video_token_id: 31991, vision_start_token_id: 31992, vision_end_token_id: 31993, vision_token_id: 31994 });
    execFileSync(process.execPath, ['--input-type=module', '-e',
      `import { writeRandomModel } from './dist/demo/random-model.js'; await writeRandomModel(${JSON.stringify(dir)}, ${config}, { seed: 4 });`]);
    const fileBytes = statSync(join(dir, 'model.safetensors')).size;
    const before = process.memoryUsage().rss;
    const model = await loadModel(dir, { mmap });
    try {
      t.is(model.dtype, 'bfloat16');
      // A forward reads every weight once, so every mapped page is touched (and counted).
      await model.forward({ inputIds: Int32Array.from({ length: 8 }, (_, i) => 100 + i) });
      const grown = process.memoryUsage().rss - before;
      t.log(`checkpoint ${(fileBytes / 1e6).toFixed(1)} MB, resident memory grew ${(grown / 1e6).toFixed(1)} MB`);
      t.true(grown < 1.4 * fileBytes, `grew ${grown} bytes for a ${fileBytes}-byte checkpoint (a float32 copy, or a copy next to the mapping, would be 2×)`);
      t.true(grown > 0.6 * fileBytes, 'the forward touched the weights (else this test measures nothing)');
    } finally {
      model.dispose();
    }
  });
}
