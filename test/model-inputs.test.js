// Bad input to the model gives clear errors naming the argument (never a crash or a hang).
import test from 'ava';
import { loadModel } from '../dist/index.js';
import { goldenDir, inputsOf, loadCase } from './model-golden-helpers.js';

let model, c;
test.before(async () => {
  c = await loadCase('single-image-f32');
  model = await loadModel(goldenDir('tiny-model'));
});
test.after.always(() => model?.dispose());

test('imageGridThw inconsistent with pixelValues rows', async (t) => {
  const inputs = inputsOf(c);
  await t.throwsAsync(model.forward({ ...inputs, pixelValues: inputs.pixelValues.subarray(0, 1176 * 100) }),
    { message: /pixelValues has 117600 values, expected \[252, 1176\]/ });
  await t.throwsAsync(model.forward({ ...inputs, imageGridThw: [[1, 14, 17]] }), { message: /multiples of spatial_merge_size/ });
  await t.throwsAsync(model.forward({ ...inputs, imageGridThw: [1, 14] }), { message: /triples/ });
});

test('image token count differs from the image features', async (t) => {
  const inputs = inputsOf(c);
  const ids = [...inputs.inputIds];
  ids[ids.indexOf(451)] = 7;
  await t.throwsAsync(model.forward({ ...inputs, inputIds: ids }), { message: /62 image tokens \(451\) but imageGridThw gives 63/ });
  await t.throwsAsync(model.forward({ inputIds: inputs.inputIds }), { message: /63 image tokens .* gives 0/ });
  await t.throwsAsync(model.forward({ inputIds: [1, 2], pixelValues: inputs.pixelValues }), { message: /pixelValues given without imageGridThw/ });
});

test('image tokens split into two runs for one image', async (t) => {
  const inputs = inputsOf(c);
  const ids = [...inputs.inputIds];
  const first = ids.indexOf(451);
  ids.splice(first + 10, 0, 5);  // a text token inside the run
  await t.throwsAsync(model.forward({ ...inputs, inputIds: ids }), { message: /needs 63 consecutive <\|image_pad\|> tokens/ });
});

test('token ids outside the vocabulary, empty prompt, wrong types', async (t) => {
  await t.throwsAsync(model.forward({ inputIds: [1, 2, 3, 512] }), { message: /inputIds\[3\] = 512 is not a token id in \[0, 512\)/ });
  await t.throwsAsync(model.forward({ inputIds: [1, -1] }), { message: /inputIds\[1\] = -1/ });
  await t.throwsAsync(model.forward({ inputIds: [1, 2.5] }), { message: /inputIds\[1\] = 2\.5/ });
  await t.throwsAsync(model.forward({ inputIds: [] }), { message: /inputIds is empty/ });
  await t.throwsAsync(model.forward({ inputIds: 'hello' }), { message: /inputIds must be/ });
  await t.throwsAsync(model.scoreCompletion({ inputIds: [1, 2] }, [600]), { message: /completionIds\[0\] = 600/ });
});

test('session misuse', async (t) => {
  const s = model.createSession();
  try {
    await t.throwsAsync(s.step(3), { message: /before prefill/ });
    await s.prefill({ inputIds: [1, 2, 3] });
    await t.throwsAsync(s.prefill({ inputIds: [1] }), { message: /already prefilled/ });
    await t.throwsAsync(s.step(9999), { message: /tokenId 9999 is not a token id in \[0, 512\)/ });
    t.is(s.length, 3);
    await s.step(4);
    t.is(s.length, 4);
  } finally {
    s.dispose();
  }
});

test('loadModel errors: missing folder, bad options', async (t) => {
  await t.throwsAsync(loadModel('/nonexistent/model'), { message: /cannot read \/nonexistent\/model\/config\.json/ });
  await t.throwsAsync(loadModel(goldenDir('tiny-model'), { device: 'gpu' }), { message: /device must be 'cpu' or 'cuda', got 'gpu'/ });
  await t.throwsAsync(loadModel(goldenDir('tiny-model'), { dtype: 'float16' }), { message: /dtype must be/ });
});

test('a disposed model says so', async (t) => {
  const m = await loadModel(goldenDir('tiny-model'));
  m.dispose();
  await t.throwsAsync(m.forward({ inputIds: [1] }), { message: /after dispose/ });
});
