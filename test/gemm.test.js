// GEMM against a float64 reference: odd shapes, both weight layouts, f32/bf16/f16 weights,
// bias, alpha, beta, batches, every instruction-set path this CPU has, 1 and 2 threads.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Tensor, ops, runtimeInfo } from '../dist/index.js';
import { runAll } from './gemm-checks.js';
import { freshSeed } from './helpers.js';

test('every shape, layout, dtype and epilogue on the default path', (t) => {
  const seed = freshSeed();
  const errors = runAll(seed);
  t.deepEqual(errors, [], `seed ${seed}`);
});

// The same checks in child processes pinned to each ISA this CPU offers and to 1 or 2 threads.
const child = fileURLToPath(new URL('./workers/gemm-child.js', import.meta.url));
const isas = { avx512: ['avx512', 'avx2', 'portable'], avx2: ['avx2', 'portable'], portable: ['portable'] }[runtimeInfo().cpuIsa];
for (const isa of isas) {
  for (const threads of [1, 2]) {
    test(`ISA ${isa}, ${threads} thread(s)`, (t) => {
      const seed = freshSeed();
      const outText = execFileSync(process.execPath, [child, String(seed)], {
        env: { ...process.env, GMAI_CPU_ISA: isa, GMAI_NUM_THREADS: String(threads) },
        encoding: 'utf8',
      });
      const report = JSON.parse(outText);
      t.is(report.isa, isa, 'the child ran the requested path');
      t.deepEqual(report.errors, [], `seed ${seed}`);
    });
  }
}

test('errors name the tensor', (t) => {
  const a = Tensor.zeros([2, 3]);
  t.throws(() => ops.matmul(a, Tensor.zeros([4, 5])), { message: /'a' is \[2, 3\] but 'b' \[4, 5\]/ });
  t.throws(() => ops.matmul(a, Tensor.from(new Int32Array(6), [3, 2])), { message: /'b' has dtype int32/ });
  t.throws(() => ops.matmul(a, Tensor.zeros([3, 2]), { out: Tensor.zeros([2, 3]) }), { message: /'c' has shape \[2, 3\]; expected \[2, 2\]/ });
  t.throws(() => ops.matmul(a, Tensor.zeros([3, 2]), { bias: Tensor.zeros([3]) }), { message: /'bias' has shape/ });
});
