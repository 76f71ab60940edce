// The residual update both towers use after attention and MLP: out += x·Wᵀ + b, done by the
// GEMM itself (beta = 1) so no temporary is allocated.
import { matmul } from '../ops/basic.js';
import type { F32, Linear } from './weights.js';

export function addLinear(out: F32, x: F32, w: Linear): void {
  matmul(x, w.weight, { transB: true, bias: w.bias, beta: 1, out });
}
