// config.json parsing: both layouts, both rope_scaling spellings, errors naming field and file.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, readConfig } from '../dist/model/config.js';
import { readJson } from './helpers.js';
import { goldenDir, nestedLayout } from './model-golden-helpers.js';

const flat = () => readJson(goldenDir('tiny-model', 'config.json'));

test('flat layout (transformers 4.50): every field from the file', async (t) => {
  const c = await readConfig(goldenDir('tiny-model'));
  t.is(c.layout, 'flat');
  t.deepEqual(c.text, {
    vocabSize: 512, hiddenSize: 64, intermediateSize: 128, numLayers: 3, numHeads: 4, numKvHeads: 2, headDim: 16,
    rmsNormEps: 1e-6, ropeTheta: 1e6, mropeSection: [2, 3, 3], tieWordEmbeddings: false, slidingWindow: 4096, useSlidingWindow: false,
  });
  t.deepEqual(c.vision, {
    depth: 4, hiddenSize: 32, numHeads: 2, headDim: 16, intermediateSize: 64, inChannels: 3, patchSize: 14, temporalPatchSize: 2,
    spatialMergeSize: 2, windowSize: 112, fullattBlockIndexes: [1, 3], outHiddenSize: 64, tokensPerSecond: 2,
  });
  t.deepEqual(c.tokens, { image: 451, video: 452, visionStart: 448, visionEnd: 449, bos: 443, eos: [445] });
  t.is(c.torchDtype, 'float32');
});

test('nested layout (text_config) parses to the same values', (t) => {
  const a = parseConfig(flat());
  const b = parseConfig(nestedLayout(flat()));
  t.is(b.layout, 'nested');
  t.deepEqual({ ...b, layout: 'flat' }, a);
});

test('rope_scaling: hub spelling {type: mrope}, and transformers 5 rope_parameters', (t) => {
  const cfg = flat();
  cfg.rope_scaling = { type: 'mrope', mrope_section: [2, 3, 3] };
  t.deepEqual(parseConfig(cfg).text.mropeSection, [2, 3, 3]);
  const v5 = flat();
  delete v5.rope_scaling;
  delete v5.rope_theta;
  v5.rope_parameters = { rope_type: 'default', rope_theta: 5e5, mrope_section: [2, 3, 3] };
  t.like(parseConfig(v5).text, { ropeTheta: 5e5, mropeSection: [2, 3, 3] });
  cfg.rope_scaling = { type: 'yarn', factor: 4 };
  t.throws(() => parseConfig(cfg), { message: /rope_scaling type 'yarn'/ });
});

test('eos comes from generation_config.json (list form too)', (t) => {
  const c = parseConfig(flat(), { generation: { eos_token_id: [445, 443] } });
  t.deepEqual(c.tokens.eos, [445, 443]);
});

test('stop_strings come from generation_config.json (a string or a list); bad ones name the file', (t) => {
  t.deepEqual(parseConfig(flat()).stopStrings, []);
  t.deepEqual(parseConfig(flat(), { generation: { stop_strings: '</answer>' } }).stopStrings, ['</answer>']);
  t.deepEqual(parseConfig(flat(), { generation: { stop_strings: ['</answer>', 'END'] } }).stopStrings, ['</answer>', 'END']);
  for (const bad of [3, [''], ['ok', 7], '']) {
    t.throws(() => parseConfig(flat(), { generation: { stop_strings: bad }, generationFile: '/m/generation_config.json' }),
      { message: /stop_strings in \/m\/generation_config\.json must be a non-empty string or a list of them/ }, JSON.stringify(bad));
  }
});

test('errors name the field and the file', (t) => {
  const missing = flat();
  delete missing.num_key_value_heads;
  t.throws(() => parseConfig(missing, { file: '/m/config.json' }), { message: /missing required field 'num_key_value_heads' in \/m\/config\.json/ });
  const nested = nestedLayout(flat());
  delete nested.text_config.rms_norm_eps;
  t.throws(() => parseConfig(nested), { message: /'rms_norm_eps'/ });
  const wrongType = flat();
  wrongType.hidden_size = '64';
  t.throws(() => parseConfig(wrongType), { message: /'hidden_size' in config\.json must be an integer/ });
  const vision = flat();
  delete vision.vision_config.window_size;
  t.throws(() => parseConfig(vision), { message: /'vision_config\.window_size'/ });
  const section = flat();
  section.rope_scaling.mrope_section = [2, 3, 4];
  t.throws(() => parseConfig(section), { message: /mrope_section .* summing to head_dim\/2 = 8/ });
  const token = flat();
  delete token.image_token_id;
  t.throws(() => parseConfig(token), { message: /'image_token_id'/ });
  const act = flat();
  act.hidden_act = 'gelu';
  t.throws(() => parseConfig(act), { message: /hidden_act 'gelu' is not supported/ });
  const full = flat();
  full.vision_config.fullatt_block_indexes = [1, 4];
  t.throws(() => parseConfig(full), { message: /fullatt_block_indexes entry 4/ });
});

test('readConfig: a missing or broken file is named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-config-'));
  try {
    await t.throwsAsync(readConfig(dir), { message: new RegExp(`cannot read ${join(dir, 'config.json')}`) });
    writeFileSync(join(dir, 'config.json'), '{ not json');
    await t.throwsAsync(readConfig(dir), { message: /config\.json is not valid JSON/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
