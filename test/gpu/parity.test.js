// CUDA parity: every op on CUDA tensors against the same op on the CPU, fresh random inputs,
// odd sizes, outputs poisoned beforehand. Skips (saying so) without a CUDA build and a GPU.
import test from 'ava';
import { Tensor, ops, runtimeInfo } from '../../dist/index.js';
import { freshSeed, randomArray, maxAbsDiff } from '../helpers.js';

const rt = runtimeInfo();
const haveGpu = rt.backends.includes('cuda');
if (!haveGpu) {
  console.log(`test:gpu skipped: no CUDA device (addon ${rt.addonPath}; build with npm run build:cuda on a machine with a GPU)`);
}
const gpuTest = haveGpu ? test : test.skip;

const onGpu = (t) => t.to('cuda');
function compare(t, name, cpuOut, gpuOut, tol) {
  const { worst, at } = maxAbsDiff(gpuOut.toArray(), cpuOut.toArray());
  t.true(worst <= tol, `${name}: max |cuda - cpu| = ${worst} at ${at} (tolerance ${tol})`);
}

gpuTest('gemm: both layouts, f32/bf16/f16 weights, bias, odd sizes', (t) => {
  for (const [M, K, N] of [[1, 1, 1], [1, 7, 3], [13, 129, 67], [67, 300, 257], [130, 65, 1]]) {
    for (const transB of [false, true]) {
      for (const dtype of ['float32', 'bfloat16', 'float16']) {
        const seed = freshSeed();
        const a = Tensor.from(randomArray(M * K, seed), [M, K]);
        const b32 = Tensor.from(randomArray(K * N, seed + 1), transB ? [N, K] : [K, N]);
        const b = dtype === 'float32' ? b32 : ops.cast(b32, dtype);
        const bias = Tensor.from(randomArray(N, seed + 2), [N]);
        const cpu = ops.matmul(a, b, { transB, bias });
        const out = Tensor.full([M, N], NaN, { device: 'cuda' });
        ops.matmul(onGpu(a), onGpu(b), { transB, bias: onGpu(bias), out });
        compare(t, `gemm ${M}x${K}x${N} ${dtype} transB=${transB} seed ${seed}`, cpu, out, 1e-4 * Math.sqrt(K));
      }
    }
  }
});

gpuTest('elementwise, rmsnorm, softmax, swiglu, embedding, cast', (t) => {
  for (const [rows, dim] of [[1, 1], [3, 7], [17, 896], [2, 4099]]) {
    const seed = freshSeed();
    const x = Tensor.from(randomArray(rows * dim, seed, -3, 3), [rows, dim]);
    const y = Tensor.from(randomArray(rows * dim, seed + 1, -3, 3), [rows, dim]);
    const w = Tensor.from(randomArray(dim, seed + 2), [dim]);
    const gx = onGpu(x), gy = onGpu(y), gw = onGpu(w);
    const tag = `[${rows}, ${dim}] seed ${seed}`;
    compare(t, `add ${tag}`, ops.add(x, y), ops.add(gx, gy), 1e-6);
    compare(t, `mul row-broadcast ${tag}`, ops.mul(x, w), ops.mul(gx, gw), 1e-6);
    compare(t, `scale ${tag}`, ops.scale(x, 0.5, 1), ops.scale(gx, 0.5, 1), 1e-6);
    compare(t, `swiglu ${tag}`, ops.swiglu(x, y), ops.swiglu(gx, gy), 1e-5);
    compare(t, `softmax ${tag}`, ops.softmax(x, { scale: 0.7 }), ops.softmax(gx, { scale: 0.7 }), 1e-6);
    compare(t, `rmsnorm ${tag}`, ops.rmsnorm(x, w, 1e-6), ops.rmsnorm(gx, gw, 1e-6), 1e-5);
    compare(t, `cast bf16 ${tag}`, ops.cast(x, 'bfloat16'), ops.cast(gx, 'bfloat16'), 0);
    const ids = Tensor.from(new Int32Array([0, rows - 1, 0]), [3]);
    compare(t, `embedding ${tag}`, ops.embedding(ids, x), ops.embedding(onGpu(ids), gx), 0);
  }
});
