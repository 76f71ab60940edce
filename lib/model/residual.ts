// The residual update both towers use after attention and MLP: out += x·Wᵀ + b, done by the
// GEMM itself (beta = 1) so no temporary is allocated; or, for training, as a new tensor.
import { add, linear, matmul } from '../ops/basic.js';
import type { F32, Linear } from './weights.js';

/**
 * x + y·Wᵀ + b: in place (the GEMM accumulates into x, no temporary) when `inPlace`, else as a
 * new tensor.
 */
export function residual(x: F32, y: F32, w: Linear, inPlace: boolean): F32 {
  if (inPlace) {
    return matmul(y, w.weight, { transB: true, bias: w.bias, beta: 1, out: x });
  }
  using p = linear(y, w.weight, w.bias);
  return add(x, p);
}
