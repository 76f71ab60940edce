// Type tests of the public entry point (expect-type): what a TypeScript user of 'gmai-vl-r1'
// sees. Checked by `tsc -p test/types` in `npm test`; nothing here runs.
import { expectTypeOf } from 'expect-type';
import {
  askImage, loadModel, loadProcessor, parseAnswer, runtimeInfo, startModelServer, Tensor, writeTinyModel,
  type AskRequest, type AskResult, type Model, type ModelServer, type ParsedAnswer, type Processor, type Runtime,
} from 'gmai-vl-r1';

expectTypeOf(loadModel).parameter(0).toEqualTypeOf<string>();
expectTypeOf(loadModel).returns.toEqualTypeOf<Promise<Model>>();
expectTypeOf(loadProcessor).returns.toEqualTypeOf<Promise<Processor>>();
expectTypeOf(writeTinyModel).returns.toEqualTypeOf<Promise<string>>();
expectTypeOf(startModelServer).returns.toEqualTypeOf<Promise<ModelServer>>();

expectTypeOf(askImage).parameters.toEqualTypeOf<[Model, Processor, AskRequest]>();
expectTypeOf(askImage).returns.toEqualTypeOf<Promise<AskResult>>();
expectTypeOf<AskResult['letter']>().toEqualTypeOf<string | null>();
expectTypeOf<AskResult['timings']['tokensPerSecond']>().toEqualTypeOf<number>();
expectTypeOf<AskRequest>().toHaveProperty('image');
expectTypeOf<AskRequest['onToken']>().toEqualTypeOf<((text: string, tokenId: number) => void) | undefined>();
// An image may be a path, a buffer or a DICOM source with display options.
expectTypeOf<{ dicom: string }>().toMatchTypeOf<AskRequest['image']>();
expectTypeOf<Buffer>().toMatchTypeOf<AskRequest['image']>();
expectTypeOf<number>().not.toMatchTypeOf<AskRequest['image']>();

expectTypeOf(parseAnswer).returns.toEqualTypeOf<ParsedAnswer>();
expectTypeOf<ParsedAnswer['formatOk']>().toEqualTypeOf<boolean>();

expectTypeOf(runtimeInfo).returns.toEqualTypeOf<Runtime>();
expectTypeOf<Runtime['backends']>().toEqualTypeOf<('cpu' | 'cuda')[]>();
expectTypeOf<Runtime['backendReason']>().toEqualTypeOf<string>();

// Tensors: the dtype parameter flows into toArray(), and tensors are disposable.
expectTypeOf<Tensor<'float32'>['toArray']>().returns.toEqualTypeOf<Float32Array>();
expectTypeOf<Tensor<'int32'>['toArray']>().returns.toEqualTypeOf<Int32Array>();
expectTypeOf<Tensor<'float32'>>().toMatchTypeOf<Disposable>();
expectTypeOf<Tensor<'float32'>['dtype']>().toEqualTypeOf<'float32'>();
