// The examples run as users would run them: the batch DICOM evaluation over a folder of real
// DICOM studies (examples/http-server.mjs is driven in test/serving.test.js).
import test from 'ava';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyModel } from '../dist/index.js';
import { evaluateStudies, listStudies } from '../examples/batch-dicom.mjs';
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
