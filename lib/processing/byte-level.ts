// GPT-2 byte-level BPE (Qwen's tokenizer): every byte is written as one printable character in
// the vocabulary. `tokenBytes` undoes that mapping, giving a token's raw bytes (which may be
// part of a UTF-8 character), as OpenAI's logprobs `bytes` field reports them.

/** GPT-2's bytes_to_unicode table, inverted: vocabulary character → byte. */
const charToByte: Map<string, number> = (() => {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const m = new Map<string, number>();
  for (const b of printable) m.set(String.fromCodePoint(b), b);
  let extra = 0;
  for (let b = 0; b < 256; b++) if (!printable.includes(b)) m.set(String.fromCodePoint(256 + extra++), b);
  return m;
})();

/** The bytes a byte-level vocabulary entry stands for; characters outside the table (added
 * special tokens) count as their own UTF-8. */
export function tokenBytes(token: string): number[] {
  const out: number[] = [];
  for (const ch of token) {
    const b = charToByte.get(ch);
    if (b !== undefined) out.push(b);
    else out.push(...Buffer.from(ch, 'utf8'));
  }
  return out;
}
