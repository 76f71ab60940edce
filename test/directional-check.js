// Directional finite-difference check of a gradient: for a random direction D over named
// parameters, the Richardson-extrapolated central difference of the loss along D (error O(ε⁴),
// so float32 forwards can use a step large enough that rounding stays far below the difference)
// against Σ grad·D. Relative to the derivative, floored at 1% of Σ|grad·D| (directions whose
// terms cancel leave a small derivative that float32 noise dominates).

/**
 * params: Map(name → Tensor) written in place (and restored); grads: Map(name → Float32Array);
 * loss: async () => number; r: a seeded generator with next() in [0, 1).
 */
export async function directionalCheck({ params, grads, loss, r, eps = 1e-3 }) {
  const base = new Map(), dir = new Map();
  let predicted = 0, magnitude = 0;
  for (const [name, p] of params) {
    base.set(name, p.toArray());
    const d = Float32Array.from({ length: p.size }, () => r.next() * 2 - 1);
    dir.set(name, d);
    const g = grads.get(name);
    for (let i = 0; i < d.length; i++) {
      predicted += g[i] * d[i];
      magnitude += Math.abs(g[i] * d[i]);
    }
  }
  const shifted = async (s) => {
    for (const [name, p] of params) p.write(Float32Array.from(base.get(name), (v, i) => v + s * dir.get(name)[i]));
    return loss();
  };
  const central = async (e) => (await shifted(e) - await shifted(-e)) / (2 * e);
  try {
    const numeric = (4 * await central(eps) - await central(2 * eps)) / 3;
    return { numeric, predicted, rel: Math.abs(numeric - predicted) / Math.max(Math.abs(numeric), magnitude / 100, 1e-12) };
  } finally {
    for (const [name, p] of params) p.write(base.get(name));
  }
}
