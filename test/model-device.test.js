// Where a model runs: loadModel's `device` is checked up front ('cuda' without a CUDA build or
// without a GPU is refused, saying which), and on the CPU every tensor stays on the CPU.
// The CUDA path itself is tested by `npm run test:gpu` (test/gpu/model-parity.test.js).
import test from 'ava';
import { Tensor, loadModel, runtimeInfo } from '../dist/index.js';
import { goldenDir } from './model-golden-helpers.js';

const noGpu = !runtimeInfo().backends.includes('cuda');

(noGpu ? test : test.skip)("device 'cuda' without a GPU: a clear error before anything loads", async (t) => {
  await t.throwsAsync(loadModel(goldenDir('tiny-model'), { device: 'cuda' }), {
    message: /device 'cuda'.*(is the CPU build.*npm run build:cuda|sees no GPU)/,
  });
});

test("device 'cpu' (the default): weights, caches and image rows on the CPU", async (t) => {
  const model = await loadModel(goldenDir('tiny-model'), { device: 'cpu' });
  const session = model.createSession({ capacity: 1 });
  try {
    t.is(model.device, 'cpu');
    t.is(model.weights.text.embed.device, 'cpu');
    t.is(session.cache.device, 'cpu');
    await session.prefill({ inputIds: [1, 2, 3] });
    const fork = session.fork();
    t.is(fork.cache.device, 'cpu');
    fork.dispose();
  } finally {
    session.dispose();
    model.dispose();
  }
});

test("Tensor.from with device 'cpu' is the plain copy; moveTo its own device is the tensor itself", (t) => {
  const a = Tensor.from(new Float32Array([1, 2, 3]), [3], { device: 'cpu' });
  t.is(a.device, 'cpu');
  t.is(a.moveTo('cpu'), a);
  t.deepEqual(Array.from(a.toArray()), [1, 2, 3]);
  a.dispose();
});
