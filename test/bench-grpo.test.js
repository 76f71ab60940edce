// `gmai bench grpo --quick`: the stages and fields it writes (never its timings).
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const gmai = fileURLToPath(new URL('../bin/gmai.js', import.meta.url));
const positive = (x) => Number.isFinite(x) && x > 0;

test('gmai bench grpo --quick: five stages of a GRPO step on the tiny model, shares summing to 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-bench-grpo-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'grpo.json');
  const { stdout } = await run(process.execPath, [gmai, 'bench', 'grpo', '--quick', '--steps', '1', '--generations', '3', '--completion', '5', '--json', file]);
  t.regex(stdout, /GRPO step, tiny demo/);
  const r = JSON.parse(readFileSync(file, 'utf8'));
  t.true(positive(r.threads) && typeof r.isa === 'string');
  t.is(r.models.length, 1);  // --quick: no 0.5B shape
  const m = r.models[0];
  t.is(m.model, 'tiny demo');
  t.like(m, { prompts: 1, generations: 3, promptTokens: 32, completionTokens: 5, steps: 1, vocab: 264 });
  t.true(positive(m.parameters) && m.trainableParameters > 0 && m.trainableParameters <= m.parameters);
  t.deepEqual(m.stages.map((s) => s.stage), ['rollout', 'reference', 'forward', 'backward', 'optimizer']);
  for (const s of m.stages) {
    t.true(positive(s.seconds) && s.share > 0 && s.share < 1, JSON.stringify(s));
    t.true(Number.isFinite(s.peakExtraMB) && s.peakExtraMB >= 0, JSON.stringify(s));
    t.true(s.stage === 'optimizer' ? positive(s.parametersPerS) : positive(s.tokensPerS), JSON.stringify(s));
  }
  t.true(Math.abs(m.stages.reduce((a, s) => a + s.share, 0) - 1) < 1e-9);
  t.true(Math.abs(m.stages.reduce((a, s) => a + s.seconds, 0) - m.stepSeconds) < 1e-9);
  // Rollout tokens/s: completion tokens of the G sequences over the stage's time.
  const rollout = m.stages[0];
  t.true(Math.abs(rollout.tokensPerS * rollout.seconds - 3 * 5) < 1e-6);
  t.true(positive(m.rollout.batchedDecodeTokensPerS) && positive(m.rollout.batch1DecodeTokensPerS));
  t.true(Math.abs(m.rollout.ratio - m.rollout.batchedDecodeTokensPerS / m.rollout.batch1DecodeTokensPerS) < 1e-9);
  t.is(m.fullLogitsMB, (3 * 5 * 264 * 4) / (1024 * 1024));
  t.is(m.gradientBuffersMB, (m.trainableParameters * 4) / (1024 * 1024));
  t.true(positive(m.rssMB));
});

test('gmai bench grpo: a bad option is a usage error', async (t) => {
  const e = await t.throwsAsync(run(process.execPath, [gmai, 'bench', 'grpo', '--generations', '1']));
  t.is(e.code, 2);
  t.regex(e.stderr, /generations/);
});
