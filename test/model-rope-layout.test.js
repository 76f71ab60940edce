// Pure index math of the model against the golden cases: get_rope_index, decode positions,
// vision window layout and rotary angles; plus the M-RoPE cos/sin table against float64.
import test from 'ava';
import { decodePositionIds, getRopeIndex, mropeCosSin } from '../dist/model/rope-index.js';
import { rotaryAngles, windowLayout } from '../dist/model/vision-layout.js';
import { freshSeed, rng } from './helpers.js';
import { checkTensor, gridsOf, loadCase } from './model-golden-helpers.js';

const CASES = ['single-image-f32', 'two-images-f32', 'text-only-f32', 'single-image-bf16'];
const opts = { imageTokenId: 451, spatialMergeSize: 2 };

for (const name of CASES) {
  test(`get_rope_index and decode positions: ${name}`, async (t) => {
    const c = await loadCase(name);
    const grids = gridsOf(c).map(([tt, h, w]) => ({ t: tt, h, w }));
    const ids = c.tensors.get('input_ids').data;
    const r = getRopeIndex(ids, grids, opts);
    checkTensor(t, c, 'rope.position_ids', r.positionIds);
    checkTensor(t, c, 'rope.rope_deltas', [r.ropeDeltas]);
    const steps = 11;
    const pos = decodePositionIds(ids.length, steps, r.ropeDeltas);
    const perStep = [];
    for (let s = 0; s < steps; s++) for (let k = 0; k < 3; k++) perStep.push(pos[k * steps + s]);
    checkTensor(t, c, 'generate.decode_position_ids', perStep);
    if (!grids.length) return;
    const L = windowLayout(grids, { windowSize: 112, patchSize: 14, spatialMergeSize: 2 });
    checkTensor(t, c, 'vision.window_index', L.windowIndex);
    checkTensor(t, c, 'vision.cu_window_seqlens_raw', L.cuWindowSeqlensRaw);
    checkTensor(t, c, 'vision.cu_window_seqlens', L.cuWindowSeqlens);
    checkTensor(t, c, 'vision.cu_seqlens', L.cuSeqlens);
    checkTensor(t, c, 'vision.rot_pos_emb', rotaryAngles(grids, { headDim: 16, spatialMergeSize: 2 }));
  });
}

test('get_rope_index: image runs that do not match the grids are errors', (t) => {
  const grid = { t: 1, h: 2, w: 4 };  // 2 merged tokens
  t.throws(() => getRopeIndex([1, 451, 2], [grid], opts), { message: /image 0 needs 2 consecutive/ });
  t.throws(() => getRopeIndex([1, 451, 451, 2], [], opts), { message: /no image grid/ });
  t.throws(() => getRopeIndex([1, 2], [grid], opts), { message: /1 image grids given but the prompt has 0/ });
});

test('get_rope_index: an image at the very start and one at the end', (t) => {
  // grid 1x2x4 → merged 1x2: positions t=p0, h=p0, w=p0..p0+1
  const r = getRopeIndex([451, 451, 7, 451, 451], [{ t: 1, h: 2, w: 4 }, { t: 1, h: 2, w: 4 }], opts);
  t.deepEqual(Array.from(r.positionIds), [0, 0, 2, 3, 3, /* h */ 0, 0, 2, 3, 3, /* w */ 0, 1, 2, 3, 4]);
  t.is(r.ropeDeltas, 5 - 5);
});

test('M-RoPE cos/sin table matches a float64 reference', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  for (const [headDim, section, seq] of [[16, [2, 3, 3], 37], [8, [1, 1, 2], 1], [128, [16, 24, 24], 5]]) {
    const pos = new Int32Array(3 * seq).map(() => r.int(300));
    const { cos, sin } = mropeCosSin(pos, seq, { headDim, ropeTheta: 1e6, mropeSection: section });
    const half = headDim / 2;
    let worst = 0;
    for (let s = 0; s < seq; s++) {
      for (let j = 0; j < half; j++) {
        const row = j < section[0] ? 0 : j < section[0] + section[1] ? 1 : 2;
        const angle = pos[row * seq + s] * Math.pow(1e6, -(2 * j) / headDim);
        worst = Math.max(worst, Math.abs(cos[s * half + j] - Math.cos(angle)), Math.abs(sin[s * half + j] - Math.sin(angle)));
      }
    }
    t.true(worst < 1e-4, `headDim ${headDim}: max error ${worst}`);
  }
});
