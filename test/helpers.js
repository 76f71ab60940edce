// Shared test utilities: seeded random inputs, float64 references, tolerance checks.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const fixture = (...p) => join(fixturesDir, ...p);
export const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));

/**
 * Pythons to try for the optional numpy cross-checks: $GMAI_TEST_PYTHON, then every python3 /
 * python on PATH, then /usr/bin/python3 (deduplicated, in that order).
 */
export function pythonCandidates(env = process.env) {
  const onPath = (env.PATH ?? '').split(delimiter).filter(Boolean).flatMap((d) => [join(d, 'python3'), join(d, 'python')]);
  return [...new Set([env.GMAI_TEST_PYTHON, ...onPath, '/usr/bin/python3'].filter(Boolean))];
}

/** The first candidate that runs and imports numpy, or null (the caller skips and says why). */
export function findPythonWithNumpy(candidates = pythonCandidates()) {
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import numpy'], { stdio: 'ignore', timeout: 20000 });
    if (r.status === 0) return py;
  }
  return null;
}

/** Mulberry32: small seeded PRNG so a failing case can be replayed from its seed. */
export function rng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    uniform: (lo = -1, hi = 1) => lo + (hi - lo) * next(),
    normal: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
    int: (n) => Math.floor(next() * n),
  };
}

/** A fresh seed per call (logged by the caller on failure). */
export const freshSeed = () => (Math.random() * 2 ** 31) >>> 0;

export function randomArray(n, seed, lo = -1, hi = 1) {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r.uniform(lo, hi);
  return a;
}

/** Round a float32 value to bfloat16 (nearest even), as float. */
export function roundBf16(x) {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000;
  return f[0];
}

/** Max |a-b| and the index where it happens; NaN anywhere counts as infinite. */
export function maxAbsDiff(actual, expected) {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let worst = 0, at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(Number(actual[i]) - Number(expected[i]));
    if (!(d <= worst)) { worst = Number.isNaN(d) ? Infinity : d; at = i; if (worst === Infinity) break; }
  }
  return { worst, at };
}

/** Asserts |actual - expected| <= atol + rtol*|expected| elementwise, with a useful message. */
export function assertClose(t, actual, expected, { atol = 1e-5, rtol = 1e-5, what = 'values' } = {}) {
  if (actual.length !== expected.length) { t.fail(`${what}: length ${actual.length} != ${expected.length}`); return; }
  for (let i = 0; i < actual.length; i++) {
    const a = Number(actual[i]), e = Number(expected[i]);
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      t.fail(`${what}[${i}]: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
      return;
    }
  }
  t.pass();
}
