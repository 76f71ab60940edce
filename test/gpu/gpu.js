// The GPU suite's gate: its tests run only with a CUDA build and a visible GPU, and otherwise
// skip, saying why. opTest() also records which native ops a test covers, so that
// checkOpCoverage() can fail on any op of the native op list without a parity test.
import test from 'ava';
import { native } from '../../dist/native.js';
import { runtimeInfo } from '../../dist/index.js';

const rt = runtimeInfo();
export const haveGpu = rt.backends.includes('cuda');
if (!haveGpu) {
  console.log(`test:gpu skipped: no CUDA device (addon ${rt.addonPath}; build with npm run build:cuda on a machine with a GPU)`);
}
export const gpuTest = haveGpu ? test : test.skip;

const covered = new Set();
/** A GPU test of the native ops `opNames` (CUDA against CPU, or the error a CPU-only op raises on CUDA). */
export function opTest(opNames, title, fn) {
  for (const n of opNames) covered.add(n);
  gpuTest(`${title} [${opNames.join(', ')}]`, fn);
}

/** Registers a test (run with or without a GPU) that every op of the native op list is covered. */
export function checkOpCoverage() {
  test('every op of the native op list (gmai/ops.h) has a parity test', (t) => {
    const missing = native().opTable().map((o) => o.name).filter((n) => !covered.has(n));
    t.deepEqual(missing, [], `ops without a test in test/gpu: ${missing.join(', ')}`);
  });
}
