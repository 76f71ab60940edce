// Training checkpoints (lib/train/checkpoint.ts): the folder is the loaded checkpoint's layout
// (names, dtypes, shapes, single or sharded files, side files) and loads with loadModel, the
// project's safetensors reader and numpy; the optimizer and trainer state come back; and a
// writer killed (SIGKILL) mid-write, or between the two renames, leaves the previous checkpoint
// loadable and bit-identical.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdamW, loadCheckpoint, loadModel, openSafetensors, ops, resolveCheckpointDir, saveCheckpoint, saveSafetensors } from '../dist/index.js';
import { fixture, roundBf16 } from './helpers.js';
import { tempDir } from './safetensors-helpers.js';
import { checkpointInputs, writeCheckpoint } from './workers/checkpoint-writer.js';

const LIKE = fixture('qwen2_5_vl', 'tiny-model-bf16');
const WRITER = fileURLToPath(new URL('./workers/checkpoint-writer.js', import.meta.url));
const NUMPY_READER = fixture('safetensors', 'numpy_reader.py');
const hasNumpy = spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

/** Where two arrays first differ (-1: equal); ava's deepEqual is slow on long arrays. */
function firstDifference(a, b) {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}
/** Asserts two folders hold the same files with the same bytes. */
function sameFolder(t, got, want, what) {
  t.deepEqual(Object.keys(got), Object.keys(want), `${what}: the same files`);
  for (const f of Object.keys(want)) t.true(got[f] && Buffer.compare(got[f], want[f]) === 0, `${what}: ${f} is bit-identical`);
}

/** Every file of a folder and its bytes. */
function folderBytes(dir) {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));
}

/** A sharded copy of LIKE: two shards and an index, as HF writes them. */
async function shardedLike(dir) {
  const reader = openSafetensors(LIKE);
  const names = reader.keys();
  const half = Math.ceil(names.length / 2);
  const shardOf = (i) => `model-0000${i < half ? 1 : 2}-of-00002.safetensors`;
  const tensors = names.map((n) => reader.get(n));
  let total = 0;
  for (const s of [0, 1]) {
    const part = new Map(names.map((n, i) => [n, tensors[i]]).filter((_, i) => (i < half) === (s === 0)));
    for (const t of part.values()) total += t.byteLength;
    await saveSafetensors(join(dir, `model-0000${s + 1}-of-00002.safetensors`), part, { format: 'pt' });
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: Object.fromEntries(names.map((n, i) => [n, shardOf(i)])) }));
  for (const f of ['config.json', 'generation_config.json', 'preprocessor_config.json']) copyFileSync(join(LIKE, f), join(dir, f));
  writeFileSync(join(dir, 'tokenizer_config.json'), '{"eos_token": "<|im_end|>"}');
  writeFileSync(join(dir, 'pytorch_model.bin'), 'stale weights in another format: not copied');
  for (const t of tensors) t.dispose();
  reader.close();
  return dir;
}

/** Saves a checkpoint in this process and checks it against `like` and the inputs it was made from. */
async function saveAndCheck(t, dir, like, step) {
  const inputs = checkpointInputs(like, step);
  try {
    const state = inputs.optimizer.state();
    await saveCheckpoint(dir, { weights: inputs.weights, like, optimizer: state, trainer: inputs.trainer });
    const likeFiles = readdirSync(like).filter((f) => f !== 'pytorch_model.bin');
    t.deepEqual(readdirSync(dir).sort(), [...likeFiles, 'optimizer.safetensors', 'trainer_state.json'].sort(), 'the files of the checkpoint');
    for (const f of likeFiles.filter((f) => !f.includes('safetensors'))) t.true(readFileSync(join(dir, f)).equals(readFileSync(join(like, f))), `${f} is copied`);

    // weights: like's names, dtypes and shapes; values = the float32 inputs rounded to bf16
    const want = openSafetensors(like), got = openSafetensors(dir);
    t.deepEqual(got.keys(), want.keys());
    t.deepEqual(got.metadata, want.metadata);
    for (const name of want.keys()) {
      t.deepEqual(got.info(name), want.info(name), `${name}: dtype and shape`);
      const x = got.get(name);
      const at = firstDifference(x.toArray(), inputs.weights.get(name).toArray().map(roundBf16));
      t.is(at, -1, `${name}: the weights rounded to bf16 (first difference at ${at})`);
      x.dispose();
    }
    want.close();
    got.close();

    const loaded = await loadCheckpoint(dir);
    try {
      t.deepEqual(loaded.trainer, inputs.trainer);
      t.deepEqual(loaded.optimizer.meta, JSON.parse(JSON.stringify(state.meta)));
      t.deepEqual([...loaded.optimizer.tensors.keys()].sort(), [...state.tensors.keys()].sort());
      for (const [name, x] of state.tensors) t.true(Buffer.from(loaded.optimizer.tensors.get(name).toBytes()).equals(Buffer.from(x.toBytes())), `optimizer ${name}`);
      // the state goes back into an optimizer over the same parameters
      const again = AdamW.forModel(inputs.weights, { weightDecay: 0.01 });
      again.loadState(loaded.optimizer);
      t.is(again.stepCount, 1);
      again.dispose();
    } finally {
      loaded.close();
    }
    const model = await loadModel(dir);
    const out = await model.forward({ inputIds: [1, 2, 3] });
    t.true(out.logits.length === 3 * out.vocabSize && out.logits.every(Number.isFinite), 'loadModel runs the checkpoint');
    model.dispose();
  } finally {
    inputs.dispose();
  }
}

test('a checkpoint of a single-file model: same names/dtypes/shapes/metadata, side files copied, optimizer and trainer state back, loads with loadModel', async (t) => {
  const tmp = tempDir('gmai-ckpt-');
  try {
    await saveAndCheck(t, tmp.path('run', 'checkpoint'), LIKE, 1);
    // saving again replaces it
    await saveAndCheck(t, tmp.path('run', 'checkpoint'), LIKE, 2);
    t.deepEqual(readdirSync(tmp.path('run')), ['checkpoint'], 'no .partial or .previous left behind');
    // a run resumed from the checkpoint may save over it with it as the model folder
    const again = checkpointInputs(tmp.path('run', 'checkpoint'), 3);
    await saveCheckpoint(tmp.path('run', 'checkpoint'), { weights: again.weights, like: tmp.path('run', 'checkpoint'), trainer: again.trainer });
    again.dispose();
    const after = await loadCheckpoint(tmp.path('run', 'checkpoint'));
    t.is(after.trainer.step, 3);
    t.is(after.optimizer, undefined);
    t.true(readFileSync(join(after.dir, 'config.json')).equals(readFileSync(join(LIKE, 'config.json'))));
    after.close();
    t.deepEqual(readdirSync(tmp.path('run')), ['checkpoint']);
  } finally {
    tmp.cleanup();
  }
});

test('a checkpoint of unchanged weights loads (loadModel) into the same model: identical logits', async (t) => {
  const tmp = tempDir('gmai-ckpt-');
  const reader = openSafetensors(LIKE);
  const weights = new Map(reader.keys().map((n) => [n, reader.get(n)]));
  try {
    const dir = tmp.path('checkpoint');
    await saveCheckpoint(dir, { weights, like: LIKE, trainer: { step: 0 } });
    t.true(readFileSync(join(dir, 'model.safetensors')).equals(readFileSync(join(LIKE, 'model.safetensors'))), 'the same bytes as the original file');
    const inputs = { inputIds: [5, 77, 130, 9, 250, 41] };
    const original = await loadModel(LIKE), copy = await loadModel(dir);
    const a = (await copy.forward(inputs)).logits, b = (await original.forward(inputs)).logits;
    t.is(firstDifference(a, b), -1, 'logits of the checkpoint and of the original');
    original.dispose();
    copy.dispose();
    const loaded = await loadCheckpoint(dir);
    t.is(loaded.optimizer, undefined);
    t.deepEqual(loaded.trainer, { step: 0 });
    loaded.close();
  } finally {
    for (const w of weights.values()) w.dispose();
    reader.close();
    tmp.cleanup();
  }
});

test('a checkpoint of a sharded model keeps the shard files and writes the index (weight_map, total_size)', async (t) => {
  const tmp = tempDir('gmai-ckpt-');
  try {
    mkdirSync(tmp.path('like'));
    const like = await shardedLike(tmp.path('like'));
    const dir = tmp.path('out', 'checkpoint-1');
    await saveAndCheck(t, dir, like, 1);
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    const likeIndex = JSON.parse(readFileSync(join(like, 'model.safetensors.index.json'), 'utf8'));
    t.deepEqual(index.weight_map, likeIndex.weight_map);
    t.is(index.metadata.total_size, likeIndex.metadata.total_size);
    t.false(existsSync(join(dir, 'pytorch_model.bin')), 'weights in other formats are not copied');
  } finally {
    tmp.cleanup();
  }
});

test('the checkpoint weights read the same with numpy (/usr/bin/python3)', async (t) => {
  if (!hasNumpy) {
    t.log('skipped: /usr/bin/python3 has no numpy; loadModel and openSafetensors checks still run');
    t.pass();
    return;
  }
  const tmp = tempDir('gmai-ckpt-');
  try {
    const dir = tmp.path('checkpoint');
    await writeCheckpoint(dir, LIKE, 3);
    const r = spawnSync('/usr/bin/python3', [NUMPY_READER, join(dir, 'model.safetensors')], { encoding: 'utf8', maxBuffer: 1 << 28 });
    t.is(r.status, 0, r.stderr);
    const np = JSON.parse(r.stdout).tensors;
    const ours = openSafetensors(dir);
    t.deepEqual(Object.keys(np).sort(), ours.keys());
    for (const name of ours.keys()) {
      const x = ours.get(name);
      t.is(np[name].dtype, 'BF16');
      t.deepEqual(np[name].shape, [...x.shape]);
      t.true(np[name].aligned, `${name} is aligned`);
      const at = firstDifference(np[name].values, Array.from(x.toArray()));
      t.is(at, -1, `${name}: numpy and openSafetensors agree (first difference at ${at})`);
      x.dispose();
    }
    ours.close();
  } finally {
    tmp.cleanup();
  }
});

/** Runs the writer child until it says `until` on stderr, then SIGKILLs it (or lets it finish). */
function runWriter(dir, step, pause) {
  return new Promise((resolveRun, reject) => {
    const env = { ...process.env, GMAI_NUM_THREADS: '1' };
    if (pause) env.GMAI_CHECKPOINT_TEST_PAUSE = pause;
    else delete env.GMAI_CHECKPOINT_TEST_PAUSE;
    const child = spawn(process.execPath, [WRITER, dir, LIKE, String(step)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '', killed = false;
    child.stderr.on('data', (d) => {
      stderr += d;
      if (pause && !killed && stderr.includes(`gmai-checkpoint-paused ${pause}`)) {
        killed = true;
        resolveRun.partialSeen = existsSync(`${dir}.partial`) ? readdirSync(`${dir}.partial`) : null;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (pause && signal === 'SIGKILL' && killed) resolveRun({ killed: true, partial: resolveRun.partialSeen });
      else if (!pause && code === 0) resolveRun({ killed: false });
      else reject(new Error(`writer exited with ${code ?? signal}, expected ${pause ? `to pause at '${pause}'` : 'success'}: ${stderr}`));
    });
  });
}

test('a writer killed mid-write or between the renames leaves the previous checkpoint complete and bit-identical', async (t) => {
  const tmp = tempDir('gmai-ckpt-');
  try {
    const dir = tmp.path('checkpoint');
    await writeCheckpoint(dir, LIKE, 1);
    const first = folderBytes(dir);

    // killed after writing half of the files into checkpoint.partial
    const midWrite = await runWriter(dir, 2, 'files');
    t.true(midWrite.killed);
    t.true(Array.isArray(midWrite.partial) && midWrite.partial.length > 0, `the writer had started on the new folder: ${midWrite.partial}`);
    t.false(midWrite.partial.includes('trainer_state.json'), 'and had not finished it');
    sameFolder(t, folderBytes(dir), first, 'the previous checkpoint is untouched');
    let loaded = await loadCheckpoint(dir);
    t.is(loaded.trainer.step, 1);
    loaded.close();

    // killed after moving the previous checkpoint aside, before moving the new one in
    const midSwap = await runWriter(dir, 3, 'swap');
    t.true(midSwap.killed);
    t.false(existsSync(dir));
    t.is(resolveCheckpointDir(dir), `${dir}.previous`);
    sameFolder(t, folderBytes(`${dir}.previous`), first, 'the previous checkpoint, aside');
    loaded = await loadCheckpoint(dir);
    t.is(loaded.trainer.step, 1);
    t.is(loaded.dir, `${dir}.previous`);
    loaded.close();
    const model = await loadModel(resolveCheckpointDir(dir));
    model.dispose();

    // the next save completes and cleans up
    await runWriter(dir, 4);
    t.deepEqual(readdirSync(tmp.dir).sort(), ['checkpoint']);
    loaded = await loadCheckpoint(dir);
    t.is(loaded.trainer.step, 4);
    loaded.close();
  } finally {
    tmp.cleanup();
  }
});

test('saveCheckpoint refuses weights that do not match the model, naming the tensor; nothing is written', async (t) => {
  const tmp = tempDir('gmai-ckpt-');
  const inputs = checkpointInputs(LIKE, 1);
  try {
    const dir = tmp.path('checkpoint');
    const trainer = { step: 1 };
    const missing = new Map(inputs.weights);
    const [firstName] = missing.keys();
    missing.delete(firstName);
    await t.throwsAsync(saveCheckpoint(dir, { weights: missing, like: LIKE, trainer }), { message: new RegExp(`lacks tensors of .*${firstName.replace(/\./g, '\\.')}`) });
    const extra = new Map(inputs.weights).set('lm_head.extra', inputs.weights.get(firstName));
    await t.throwsAsync(saveCheckpoint(dir, { weights: extra, like: LIKE, trainer }), { message: /has tensors that .* does not: lm_head\.extra/ });
    const reshaped = new Map(inputs.weights).set(firstName, inputs.weights.get(firstName).reshape([inputs.weights.get(firstName).size]));
    await t.throwsAsync(saveCheckpoint(dir, { weights: reshaped, like: LIKE, trainer }), { message: new RegExp(`weight '${firstName.replace(/\./g, '\\.')}' is \\[\\d+\\] but`) });
    await t.throwsAsync(saveCheckpoint(dir, { weights: inputs.weights, like: LIKE, trainer: { step: -1 } }), { message: /'trainer.step' must be an integer >= 0/ });
    await t.throwsAsync(saveCheckpoint(dir, { weights: inputs.weights, like: tmp.path('nope'), trainer }), { message: /'like' must be the model folder/ });
    await t.throwsAsync(saveCheckpoint(dir, { weights: inputs.weights, like: LIKE, trainer: { step: 1, version: 2 } }), { message: /'trainer.version' is reserved/ });
    await t.throwsAsync(saveCheckpoint(dir, { weights: inputs.weights, like: LIKE, trainer: { step: 1, n: 1n } }), { message: /'trainer' cannot be written as JSON/ });
    t.deepEqual(readdirSync(tmp.dir), []);
    await t.throwsAsync(loadCheckpoint(dir), { message: /no checkpoint at/ });
  } finally {
    inputs.dispose();
    tmp.cleanup();
  }
});

test('resume through a checkpoint is exact: 2 steps + save/load + 2 steps = 4 steps straight (float32 weights saved as bf16)', async (t) => {
  const tmp = tempDir('gmai-ckpt-');
  const gradsAt = (weights, k) => new Map([...weights].map(([n, w]) => [n, Float32Array.from({ length: w.size }, (_, i) => Math.sin(i * (k + 1) + k))]));
  const lrs = [1e-2, 8e-3, 6e-3, 4e-3];
  const straight = checkpointInputs(LIKE, 1), first = checkpointInputs(LIKE, 1);
  let resumedWeights, resumed, loaded;
  try {
    // (checkpointInputs already took one step: both runs start from the same state)
    lrs.forEach((lr, k) => straight.optimizer.step(gradsAt(straight.weights, k), { lr, loss: 1 }));
    lrs.slice(0, 2).forEach((lr, k) => first.optimizer.step(gradsAt(first.weights, k), { lr, loss: 1 }));
    const dir = tmp.path('checkpoint');
    await saveCheckpoint(dir, { weights: first.weights, like: LIKE, optimizer: first.optimizer.state(), trainer: { step: 3 } });
    first.dispose();

    loaded = await loadCheckpoint(dir);
    resumedWeights = new Map(loaded.weights.keys().map((n) => {
      const stored = loaded.weights.get(n);
      const w = ops.cast(stored, 'float32');
      stored.dispose();
      return [n, w];
    }));
    resumed = AdamW.forModel(resumedWeights, { weightDecay: 0.01 });
    resumed.loadState(loaded.optimizer);
    lrs.slice(2).forEach((lr, k) => resumed.step(gradsAt(resumedWeights, k + 2), { lr, loss: 1 }));
    for (const [name, w] of straight.weights) {
      t.true(Buffer.from(resumedWeights.get(name).toBytes()).equals(Buffer.from(w.toBytes())), `${name}: resumed = straight, bit for bit`);
    }
    const a = straight.optimizer.state(), b = resumed.state();
    for (const [name, x] of a.tensors) t.true(Buffer.from(b.tensors.get(name).toBytes()).equals(Buffer.from(x.toBytes())), `optimizer ${name}`);
  } finally {
    straight.dispose();
    resumed?.dispose();
    for (const w of resumedWeights?.values() ?? []) w.dispose();
    loaded?.close();
    tmp.cleanup();
  }
});
