// Suggestions for a mistyped name (a CLI option, a command, a config key).

/** Edit distance with adjacent transpositions ('infre' is one edit from 'infer'). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) {
    d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
  }
  return d[a.length][b.length];
}

/** ` (did you mean 'x'?)` for the closest candidate, or '' when none is close. */
export function didYouMean(given: string, candidates: string[], prefix = ''): string {
  let best = '', bestD = Infinity;
  for (const c of candidates) {
    const dist = distance(given, c);
    if (dist < bestD) { best = c; bestD = dist; }
  }
  return best && bestD <= Math.max(2, Math.floor(given.length / 3)) ? ` (did you mean '${prefix}${best}'?)` : '';
}
