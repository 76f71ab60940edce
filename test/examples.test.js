// The examples run as users would run them: the batch DICOM evaluation over a folder of real
// DICOM studies, GRPO with a custom reward function (examples/http-server.mjs is driven in
// test/serving.test.js).
import test from 'ava';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSyntheticDataset, writeTinyModel } from '../dist/index.js';
import { evaluateStudies, listStudies } from '../examples/batch-dicom.mjs';
import { concise, train } from '../examples/custom-reward.mjs';
import { fixture } from './helpers.js';

test('batch-dicom evaluates every study of a folder, scores the known answers and reports unreadable ones', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-studies-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const modelDir = await writeTinyModel(join(dir, 'model'), { seed: 3 });
  const studies = join(dir, 'studies');
  // Three readable studies (CT, MR with two slices, an RGB secondary capture), one truncated file, one empty folder.
  const add = (study, ...names) => {
    mkdirSync(join(studies, study), { recursive: true });
    names.forEach(([src, dst]) => copyFileSync(fixture('dicom', src, `${src}.dcm`), join(studies, study, dst)));
  };
  add('ct-001', ['CT_small', 'slice1.dcm']);
  add('mr-002', ['MR_small', 'a.dcm'], ['MR_small_implicit', 'b.dcm']);
  add('sc-003', ['SC_rgb_rle', 'x.dcm']);
  add('bad-004', ['MR_truncated', 'broken.dcm']);
  mkdirSync(join(studies, 'empty-005'));
  const answers = { 'ct-001': 'A', 'mr-002': 'B', 'bad-004': 'B' };
  writeFileSync(join(studies, 'questions.json'), JSON.stringify({ answers }));

  t.deepEqual(listStudies(studies).map((s) => s.name), ['bad-004', 'ct-001', 'mr-002', 'sc-003']);
  const { rows, accuracy, scored, resultsPath } = await evaluateStudies(modelDir, studies, { maxNewTokens: 12 });
  t.deepEqual(rows.map((r) => r.study), ['bad-004', 'ct-001', 'mr-002', 'sc-003']);
  t.is(rows.find((r) => r.study === 'mr-002').slice, join(studies, 'mr-002', 'a.dcm'), 'the middle slice of two is the first');

  const bad = rows.find((r) => r.study === 'bad-004');
  t.truthy(bad.error, 'the truncated file gives an error row');
  t.regex(bad.error, /broken\.dcm|pixel data|truncat/i);
  t.false(bad.correct);
  for (const r of rows.filter((x) => x.study !== 'bad-004')) {
    t.is(r.error, undefined, `${r.study} was read`);
    t.true(r.letter === null || 'ABCD'.includes(r.letter));
    t.is(r.correct, r.study in answers ? r.letter === answers[r.study] : null);
  }
  // Accuracy over the studies with a known answer, counted here from the rows.
  const known = rows.filter((r) => r.study in answers);
  t.is(scored, 3);
  t.is(accuracy, known.filter((r) => r.letter === answers[r.study]).length / 3);
  const written = readFileSync(resultsPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.deepEqual(written, rows);
});

test('custom-reward: GRPO scores the user reward functions beside accuracy and format, each with its weight', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-reward-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await writeTinyModel(join(dir, 'model'), { seed: 3, layers: 2, visionDepth: 2 });
  await writeSyntheticDataset(join(dir, 'data'), { seed: 4, trainCount: 4, heldOutCount: 0, format: 'png', size: 64 });
  const r = await train(join(dir, 'model'), join(dir, 'data', 'train.jsonl'), join(dir, 'out'), 1, { maxCompletionLength: 8 });
  const m = r.metrics[0];
  t.deepEqual(Object.keys(m.rewards).sort(), ['accuracy', 'concise', 'format', 'mentions_modality']);
  // The weighted sum the advantages use: 1·accuracy + 1·format + 0.2·concise + 0.1·mentions_modality.
  const expected = m.rewards.accuracy.mean + m.rewards.format.mean + 0.2 * m.rewards.concise.mean + 0.1 * m.rewards.mentions_modality.mean;
  t.true(Math.abs(m.reward - expected) < 1e-9, `reward ${m.reward} vs ${expected}`);
  t.is(concise(10)({ completion: '<think>short</think><answer>A</answer>' }), 1);
  t.is(concise(10)({ completion: '<think>' + 'x'.repeat(25) + '</think>' }), 0);
  t.is(concise(10)({ completion: 'no reasoning' }), 0);
});
