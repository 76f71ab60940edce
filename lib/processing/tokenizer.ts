// Text ↔ token ids with a Hugging Face `tokenizer.json` (Qwen2.5's byte-level BPE and its
// special tokens), through @huggingface/tokenizers — Hugging Face's own pure-JS port, no
// native code or downloads. Adds what generation needs: id lookups and a streaming decoder
// that never emits half a UTF-8 character.
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export interface StreamDecoder {
  /** Adds one token; returns the text that is now complete (possibly ''). */
  push(id: number): string;
  /** Returns whatever is still held back (at the end of a stream). */
  flush(): string;
}

export class Tokenizer {
  readonly #hf: HfTokenizer;
  readonly #special: Set<number>;
  /** tokenizer_config.json fields (chat_template, eos_token, ...), {} when absent. */
  readonly config: Record<string, unknown>;

  private constructor(tokenizerJson: Record<string, unknown>, config: Record<string, unknown>, source: string) {
    try {
      this.#hf = new HfTokenizer(tokenizerJson, config);
    } catch (e) {
      throw new Error(`${source}: not a usable tokenizer.json (${(e as Error).message})`);
    }
    this.config = config;
    const added = (tokenizerJson.added_tokens ?? []) as { id: number; special?: boolean }[];
    this.#special = new Set(added.filter((t) => t.special).map((t) => t.id));
  }

  /** From a model folder holding tokenizer.json (and usually tokenizer_config.json). */
  static fromDir(dir: string): Tokenizer {
    const file = join(dir, 'tokenizer.json');
    if (!existsSync(file)) throw new Error(`no tokenizer.json in ${dir}`);
    const cfgFile = join(dir, 'tokenizer_config.json');
    return new Tokenizer(readJson(file), existsSync(cfgFile) ? readJson(cfgFile) : {}, file);
  }

  static fromFile(tokenizerJson: string, tokenizerConfigJson?: string): Tokenizer {
    return new Tokenizer(readJson(tokenizerJson), tokenizerConfigJson ? readJson(tokenizerConfigJson) : {}, tokenizerJson);
  }

  static fromObjects(tokenizerJson: Record<string, unknown>, config: Record<string, unknown> = {}): Tokenizer {
    return new Tokenizer(tokenizerJson, config, 'tokenizer');
  }

  /** Special tokens written in the text (e.g. `<|im_start|>`) become their ids. */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): Int32Array {
    return Int32Array.from(this.#hf.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false }).ids);
  }

  decode(ids: ArrayLike<number>, opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';  // @huggingface/tokenizers refuses an empty list
    return this.#hf.decode(Array.from(ids), { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.#hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.#hf.id_to_token(id);
  }

  /** The id of a token that must exist (errors name it). */
  requireId(token: string): number {
    const id = this.tokenToId(token);
    if (id === undefined) throw new Error(`the tokenizer has no token '${token}'`);
    return id;
  }

  isSpecial(id: number): boolean {
    return this.#special.has(id);
  }

  /** Number of ids the tokenizer knows (regular vocabulary plus added tokens). */
  get vocabSize(): number {
    return this.#hf.get_vocab(true).size;
  }

  /**
   * Incremental decoding for streams. Byte-level BPE can split one character over several
   * tokens; text is held back while it ends in an incomplete UTF-8 sequence (decoded as
   * U+FFFD), and released once the character completes.
   */
  createStreamDecoder(opts: { skipSpecialTokens?: boolean } = {}): StreamDecoder {
    const skip = opts.skipSpecialTokens ?? true;
    let pending: number[] = [];
    const MAX_PENDING = 8; // a real U+FFFD in the output is released after this many tokens
    return {
      push: (id: number) => {
        if (skip && this.#special.has(id)) return '';
        pending.push(id);
        const text = this.decode(pending);
        if (text.endsWith('\uFFFD') && pending.length < MAX_PENDING) return '';
        pending = [];
        return text;
      },
      flush: () => {
        const text = pending.length ? this.decode(pending) : '';
        pending = [];
        return text;
      },
    };
  }
}
