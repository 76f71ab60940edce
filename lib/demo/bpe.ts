// Byte-level BPE merges learned from a small corpus (the demo's prompts and reasoning traces),
// so that the tiny model reads "What kind of medical image is this?" as a handful of tokens
// rather than 36 bytes: shorter sequences train and sample faster, and the image tokens are a
// larger share of what attention has to search. Classic BPE: split the text into words the way
// the ByteLevel pre-tokenizer does, then repeatedly merge the most frequent adjacent pair.

/** GPT-2's pre-tokenizer split (what `ByteLevel` with `use_regex: true` applies before BPE). */
const WORDS = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * Up to `count` merges ("left right", rank order) over the byte-alphabet spelling of `corpus`
 * (`alphabet[b]` is the symbol of byte b). Ties go to the pair seen first, so the result is
 * deterministic; pairs seen fewer than `minCount` times are not merged.
 */
export function learnMerges(corpus: readonly string[], alphabet: readonly string[], count: number, minCount = 2): string[] {
  const encoder = new TextEncoder();
  const freq = new Map<string, number>();
  for (const text of corpus)
    for (const w of text.match(WORDS) ?? []) freq.set(w, (freq.get(w) ?? 0) + 1);
  // Each distinct word as its symbol sequence, with how often it occurs.
  const words = [...freq].map(([w, n]) => ({ symbols: Array.from(encoder.encode(w), (b) => alphabet[b]), n }));
  const merges: string[] = [];
  while (merges.length < count) {
    const pairs = new Map<string, number>();
    for (const { symbols, n } of words)
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + n);
      }
    let best = '', bestN = minCount - 1;
    for (const [key, n] of pairs) if (n > bestN) [best, bestN] = [key, n];
    if (!best) break;
    merges.push(best);
    const [a, b] = best.split(' ');
    for (const w of words) {
      const s = w.symbols, out: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) { out.push(a + b); i++; } else out.push(s[i]);
      }
      w.symbols = out;
    }
  }
  return merges;
}
