// Statistics for tests of random samplers: Pearson's chi-square goodness of fit with its exact
// p-value (regularised upper incomplete gamma, Numerical Recipes' series / continued fraction).

function logGamma(x) {
  // Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for x > 0.
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
    -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Q(a, x) = Γ(a, x) / Γ(a): the upper tail of a Gamma(a) variable. */
export function gammaQ(a, x) {
  if (x <= 0) return 1;
  const lead = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a, term = sum;
    for (let n = 1; n < 10000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(lead);
  }
  // Lentz's continued fraction for Q.
  const tiny = 1e-300;
  let b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b; if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.exp(lead) * h;
}

/**
 * Chi-square test of observed counts against expected probabilities. Categories with expected
 * count below 5 are pooled into one bin (the usual validity rule). Returns the statistic, the
 * degrees of freedom, the p-value and `impossible`: draws of categories whose probability is 0.
 */
export function chiSquareTest(counts, probs) {
  const n = counts.reduce((s, c) => s + c, 0);
  let impossible = 0;
  const bins = [];
  let pooledObs = 0, pooledExp = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] === 0) { impossible += counts[i]; continue; }
    const e = probs[i] * n;
    if (e < 5) { pooledObs += counts[i]; pooledExp += e; } else bins.push([counts[i], e]);
  }
  if (pooledExp > 0) {
    if (pooledExp >= 5 || bins.length === 0) bins.push([pooledObs, pooledExp]);
    else { bins.sort((a, b) => a[1] - b[1]); bins[0] = [bins[0][0] + pooledObs, bins[0][1] + pooledExp]; }
  }
  const stat = bins.reduce((s, [o, e]) => s + ((o - e) * (o - e)) / e, 0);
  const df = bins.length - 1;
  const p = df > 0 ? gammaQ(df / 2, stat / 2) : 1;
  return { stat, df, p, impossible };
}
