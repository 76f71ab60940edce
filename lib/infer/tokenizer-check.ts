// A tokenizer from another model (another size, another family) makes prompts the model cannot
// read: image placeholders under other ids, ids past the embedding table. Caught here, before
// any prompt, with both folders named, instead of a confusing count of image tokens later.
import type { Model } from '../model/model.js';
import type { Processor } from '../processing/processor.js';

const checked = new WeakMap<Processor, WeakSet<Model>>();

export function checkTokenizerMatchesModel(model: Model, processor: Processor): void {
  if (checked.get(processor)?.has(model)) return;
  const tokens = model.config.tokens, vocab = model.config.text.vocabSize;
  const problems: string[] = [];
  const pairs: [string, number, number][] = [
    ['<|image_pad|>', processor.imagePadId, tokens.image],
    ['<|vision_start|>', processor.visionStartId, tokens.visionStart],
    ['<|vision_end|>', processor.visionEndId, tokens.visionEnd],
  ];
  for (const [name, tokenizerId, modelId] of pairs) {
    if (modelId !== undefined && tokenizerId !== modelId) problems.push(`${name} is id ${tokenizerId} in the tokenizer but ${modelId} in the model's config`);
  }
  const tokVocab = processor.tokenizer.vocabSize;
  if (tokVocab > vocab) problems.push(`the tokenizer has ${tokVocab} ids but the model's vocabulary has ${vocab} (ids ≥ ${vocab} have no embedding)`);
  if (problems.length) {
    throw new Error(`the tokenizer of ${processor.dir ?? 'the given processor'} does not belong to the model of ${model.dir ?? 'the given model'}: ` +
      `${problems.join('; ')}. Load the processor from the model's own folder.`);
  }
  if (!checked.has(processor)) checked.set(processor, new WeakSet());
  checked.get(processor)!.add(model);
}
