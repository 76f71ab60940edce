// Chat templates: the model folder's own Jinja template (chat_template.json,
// chat_template.jinja, or tokenizer_config.json → chat_template) rendered with
// @huggingface/jinja, else a built-in template in Qwen2-VL's format. Each image part becomes
// `<|vision_start|><|image_pad|><|vision_end|>`; the processor then repeats the pad token
// once per merged image patch.
import { Template } from '@huggingface/jinja';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type ContentPart = { type: 'text'; text: string } | { type: 'image'; image: unknown };

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string | ContentPart[];
}

/**
 * Qwen2-VL's chat format, written for this package (default system prompt, image markers).
 * No whitespace control: the newlines in the literal text are part of the format.
 */
export const BUILTIN_QWEN2_VL_TEMPLATE = [
  "{% for message in messages %}",
  "{% if loop.first and message['role'] != 'system' %}",
  "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n",
  "{% endif %}",
  "<|im_start|>{{ message['role'] }}\n",
  "{% if message['content'] is string %}",
  "{{ message['content'] }}",
  "{% else %}",
  "{% for part in message['content'] %}",
  "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>",
  "{% elif part['type'] == 'text' %}{{ part['text'] }}",
  "{% endif %}",
  "{% endfor %}",
  "{% endif %}",
  "<|im_end|>\n",
  "{% endfor %}",
  "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
].join('');

/** The template text of a model folder, and where it came from. */
export function findChatTemplate(dir: string): { source: string; template: string } {
  const jsonFile = join(dir, 'chat_template.json');
  if (existsSync(jsonFile)) {
    const t = (JSON.parse(readFileSync(jsonFile, 'utf8')) as { chat_template?: unknown }).chat_template;
    if (typeof t !== 'string') throw new Error(`${jsonFile} has no string 'chat_template'`);
    return { source: jsonFile, template: t };
  }
  const jinjaFile = join(dir, 'chat_template.jinja');
  if (existsSync(jinjaFile)) return { source: jinjaFile, template: readFileSync(jinjaFile, 'utf8') };
  const cfgFile = join(dir, 'tokenizer_config.json');
  if (existsSync(cfgFile)) {
    const t = (JSON.parse(readFileSync(cfgFile, 'utf8')) as { chat_template?: unknown }).chat_template;
    if (typeof t === 'string') return { source: cfgFile, template: t };
  }
  return { source: 'built-in Qwen2-VL template', template: BUILTIN_QWEN2_VL_TEMPLATE };
}

export class ChatTemplate {
  readonly #template: Template;

  constructor(readonly template: string, readonly source = 'chat template') {
    try {
      this.#template = new Template(template);
    } catch (e) {
      throw new Error(`${source}: cannot parse the chat template (${(e as Error).message})`);
    }
  }

  render(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean; extra?: Record<string, unknown> } = {}): string {
    validateMessages(messages);
    // The template sees plain objects; image payloads (paths, buffers) are irrelevant to it.
    const plain = messages.map((m) => ({
      role: m.role,
      content: typeof m.content === 'string' ? m.content
        : m.content.map((p) => (p.type === 'image' ? { type: 'image' } : { type: 'text', text: p.text })),
    }));
    try {
      return this.#template.render({ messages: plain, add_generation_prompt: opts.addGenerationPrompt ?? false, ...opts.extra });
    } catch (e) {
      throw new Error(`${this.source}: rendering failed (${(e as Error).message})`);
    }
  }
}

function validateMessages(messages: ChatMessage[]): void {
  if (!Array.isArray(messages) || messages.length === 0) throw new Error('messages must be a non-empty array');
  messages.forEach((m, i) => {
    if (!m || !['system', 'user', 'assistant'].includes(m.role)) throw new Error(`messages[${i}].role must be 'system', 'user' or 'assistant', got '${m?.role}'`);
    if (typeof m.content === 'string') return;
    if (!Array.isArray(m.content)) throw new Error(`messages[${i}].content must be a string or an array of parts`);
    m.content.forEach((p, j) => {
      if (p?.type === 'text' && typeof p.text === 'string') return;
      if (p?.type === 'image' && p.image !== undefined) return;
      throw new Error(`messages[${i}].content[${j}] must be {type: 'text', text} or {type: 'image', image}`);
    });
  });
}
