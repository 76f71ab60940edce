// Float64 references for the optimiser tests.

/** One float64 AdamW step (torch.optim.AdamW's formulas) over plain arrays, in place. */
export function adamwReference(p, g, m, v, { lr, beta1, beta2, eps, weightDecay, step, gradScale = 1 }) {
  const bc1 = 1 - beta1 ** step, bc2Sqrt = Math.sqrt(1 - beta2 ** step);
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] * gradScale;
    p[i] *= 1 - lr * weightDecay;
    m[i] = beta1 * m[i] + (1 - beta1) * gi;
    v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
    p[i] -= (lr / bc1) * m[i] / (Math.sqrt(v[i]) / bc2Sqrt + eps);
  }
}
