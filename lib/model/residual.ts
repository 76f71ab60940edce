// The residual update both towers use after attention and MLP: out += x·Wᵀ + b, done by the
// GEMM itself (beta = 1) so no temporary is allocated; or, for training, as a new tensor (with
// the projection's LoRA adapter, if any).
import { add, matmul } from '../ops/basic.js';
import { projection, refuseOut } from './projection.js';
import type { F32, Linear } from './weights.js';

/**
 * x + y·Wᵀ + b: in place (the GEMM accumulates into x, no temporary) when `inPlace`, else as a
 * new tensor.
 */
export function residual(x: F32, y: F32, w: Linear, inPlace: boolean): F32 {
  if (inPlace) {
    refuseOut([w], x);
    return matmul(y, w.weight, { transB: true, bias: w.bias, beta: 1, out: x });
  }
  using p = projection(y, w);
  return add(x, p);
}
