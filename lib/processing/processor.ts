// The processor: chat messages with images → the model's inputs. Renders the chat template,
// tokenizes, preprocesses each image (pixel values + grid), and repeats each image's pad token
// once per merged patch (grid_t·grid_h·grid_w / merge²), as Qwen2.5-VL's processor does.
import { ChatMessage, ChatTemplate, findChatTemplate } from './chat-template.js';
import { Tokenizer } from './tokenizer.js';

export interface ImageOptions {
  minPixels?: number;
  maxPixels?: number;
  patchSize?: number;
  mergeSize?: number;
  temporalPatchSize?: number;
  imageMean?: number[];
  imageStd?: number[];
  /** Scale images with a side below patch·merge up to it (with a one-line warning) instead of
   * refusing them as transformers does. */
  upscaleSmallImages?: boolean;
}

export type ImagePreprocessor = (image: unknown, options: ImageOptions) => Promise<{ pixelValues: Float32Array; gridThw: [number, number, number] }>;

export interface ProcessorInputs {
  inputIds: Int32Array;
  pixelValues?: Float32Array;
  imageGridThw?: [number, number, number][];
}

export interface ProcessorOverrides extends ImageOptions {
  /** A chat template string to use instead of the folder's. */
  chatTemplate?: string;
  /** Replaces the image preprocessing (tests, custom pipelines). */
  imagePreprocessor?: ImagePreprocessor;
}

const defaultImagePreprocessor: ImagePreprocessor = async (image, options) => {
  const m = await import('./image.js');
  return m.preprocessImage(image as Parameters<typeof m.preprocessImage>[0], options);
};

export class Processor {
  readonly imagePadId: number;
  readonly visionStartId: number;
  readonly visionEndId: number;

  constructor(
    readonly tokenizer: Tokenizer,
    readonly chatTemplate: ChatTemplate,
    readonly imageOptions: ImageOptions,
    private readonly preprocess: ImagePreprocessor = defaultImagePreprocessor,
    /** The folder it was loaded from (errors name it). */
    readonly dir?: string,
  ) {
    this.imagePadId = tokenizer.requireId('<|image_pad|>');
    this.visionStartId = tokenizer.requireId('<|vision_start|>');
    this.visionEndId = tokenizer.requireId('<|vision_end|>');
  }

  get mergeSize(): number {
    return this.imageOptions.mergeSize ?? 2;
  }

  /** Renders, tokenizes and preprocesses; images in message order. */
  async apply(req: { messages: ChatMessage[]; addGenerationPrompt?: boolean; upscaleSmallImages?: boolean }): Promise<ProcessorInputs> {
    const imageOptions = req.upscaleSmallImages === undefined ? this.imageOptions : { ...this.imageOptions, upscaleSmallImages: req.upscaleSmallImages };
    const text = this.chatTemplate.render(req.messages, { addGenerationPrompt: req.addGenerationPrompt ?? true });
    const images = req.messages.flatMap((m) => (typeof m.content === 'string' ? [] : m.content.filter((p) => p.type === 'image')))
      .map((p) => (p as { image: unknown }).image);
    const processed = [];
    for (const [i, img] of images.entries()) {
      try {
        processed.push(await this.preprocess(img, imageOptions));
      } catch (e) {
        throw new Error(`image ${i + 1}: ${(e as Error).message}`);
      }
    }
    const ids = this.tokenizer.encode(text);
    const grids = processed.map((p) => p.gridThw);
    const inputIds = this.expandImageTokens(ids, grids);
    if (!processed.length) return { inputIds };
    const total = processed.reduce((n, p) => n + p.pixelValues.length, 0);
    const pixelValues = new Float32Array(total);
    let off = 0;
    for (const p of processed) { pixelValues.set(p.pixelValues, off); off += p.pixelValues.length; }
    return { inputIds, pixelValues, imageGridThw: grids };
  }

  /** Repeats the k-th `<|image_pad|>` token t·h·w/merge² times for the k-th grid. */
  expandImageTokens(ids: Int32Array, grids: [number, number, number][]): Int32Array {
    const pads = ids.reduce((n, id) => n + (id === this.imagePadId ? 1 : 0), 0);
    if (pads !== grids.length) throw new Error(`the prompt has ${pads} image placeholder(s) but ${grids.length} image(s) were given`);
    const m2 = this.mergeSize * this.mergeSize;
    const counts = grids.map(([t, h, w], i) => {
      if ((t * h * w) % m2 !== 0) throw new Error(`image ${i + 1}: grid ${t}×${h}×${w} is not divisible by merge size² = ${m2}`);
      return (t * h * w) / m2;
    });
    const out = new Int32Array(ids.length - pads + counts.reduce((a, b) => a + b, 0));
    let o = 0, k = 0;
    for (const id of ids) {
      if (id === this.imagePadId) { out.fill(id, o, o + counts[k]); o += counts[k++]; } else out[o++] = id;
    }
    return out;
  }
}

/**
 * A processor for a model folder: tokenizer.json (+ tokenizer_config.json), the chat template
 * (falls back to the built-in Qwen2-VL one) and preprocessor_config.json when present.
 */
export async function loadProcessor(dir: string, overrides: ProcessorOverrides = {}): Promise<Processor> {
  const tokenizer = Tokenizer.fromDir(dir);
  const found = overrides.chatTemplate ? { source: 'overrides.chatTemplate', template: overrides.chatTemplate } : findChatTemplate(dir);
  const { chatTemplate: _t, imagePreprocessor, ...imageOverrides } = overrides;
  let fileOptions: ImageOptions = {};
  if (!imagePreprocessor) {
    const m = await import('./image.js');
    fileOptions = await m.loadImageProcessorConfig(dir);
  }
  return new Processor(tokenizer, new ChatTemplate(found.template, found.source), { ...fileOptions, ...imageOverrides }, imagePreprocessor, dir);
}
