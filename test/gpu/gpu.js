// The GPU suite's gate: its tests run only with a CUDA build and a visible GPU, and otherwise
// skip, saying why.
import test from 'ava';
import { runtimeInfo } from '../../dist/index.js';

const rt = runtimeInfo();
export const haveGpu = rt.backends.includes('cuda');
if (!haveGpu) {
  console.log(`test:gpu skipped: no CUDA device (addon ${rt.addonPath}; build with npm run build:cuda on a machine with a GPU)`);
}
export const gpuTest = haveGpu ? test : test.skip;
