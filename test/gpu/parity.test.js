// CUDA parity: every op on CUDA tensors against the same op on the CPU, fresh random inputs,
// odd sizes, outputs poisoned beforehand. Skips (saying so) without a CUDA build and a GPU.
import { Tensor, ops } from '../../dist/index.js';
import { native } from '../../dist/native.js';
import { freshSeed, randomArray, maxAbsDiff, rng, roundBf16 } from '../helpers.js';
import { gammaQ } from '../stats.js';
import { checkOpCoverage, gpuTest, opTest } from './gpu.js';

const onGpu = (t) => t.to('cuda');
function compare(t, name, cpuOut, gpuOut, tol) {
  const { worst, at } = maxAbsDiff(gpuOut.toArray(), cpuOut.toArray());
  t.true(worst <= tol, `${name}: max |cuda - cpu| = ${worst} at ${at} (tolerance ${tol})`);
}

opTest(['gemm'], 'gemm: both layouts, f32/bf16/f16 weights, bias, odd sizes', (t) => {
  for (const [M, K, N] of [[1, 1, 1], [1, 7, 3], [13, 129, 67], [67, 300, 257], [130, 65, 1]]) {
    for (const transB of [false, true]) {
      for (const dtype of ['float32', 'bfloat16', 'float16']) {
        const seed = freshSeed();
        const a = Tensor.from(randomArray(M * K, seed), [M, K]);
        const b32 = Tensor.from(randomArray(K * N, seed + 1), transB ? [N, K] : [K, N]);
        const b = dtype === 'float32' ? b32 : ops.cast(b32, dtype);
        const bias = Tensor.from(randomArray(N, seed + 2), [N]);
        const cpu = ops.matmul(a, b, { transB, bias });
        const out = Tensor.full([M, N], NaN, { device: 'cuda' });
        ops.matmul(onGpu(a), onGpu(b), { transB, bias: onGpu(bias), out });
        compare(t, `gemm ${M}x${K}x${N} ${dtype} transB=${transB} seed ${seed}`, cpu, out, 1e-4 * Math.sqrt(K));
      }
    }
  }
});

opTest(['binary', 'scale', 'swiglu', 'softmax', 'rmsnorm', 'convert', 'embedding'], 'elementwise, rmsnorm, softmax, swiglu, embedding, cast', (t) => {
  for (const [rows, dim] of [[1, 1], [3, 7], [17, 896], [2, 4099]]) {
    const seed = freshSeed();
    const x = Tensor.from(randomArray(rows * dim, seed, -3, 3), [rows, dim]);
    const y = Tensor.from(randomArray(rows * dim, seed + 1, -3, 3), [rows, dim]);
    const w = Tensor.from(randomArray(dim, seed + 2), [dim]);
    const gx = onGpu(x), gy = onGpu(y), gw = onGpu(w);
    const tag = `[${rows}, ${dim}] seed ${seed}`;
    compare(t, `add ${tag}`, ops.add(x, y), ops.add(gx, gy), 1e-6);
    compare(t, `mul row-broadcast ${tag}`, ops.mul(x, w), ops.mul(gx, gw), 1e-6);
    compare(t, `scale ${tag}`, ops.scale(x, 0.5, 1), ops.scale(gx, 0.5, 1), 1e-6);
    compare(t, `swiglu ${tag}`, ops.swiglu(x, y), ops.swiglu(gx, gy), 1e-5);
    compare(t, `softmax ${tag}`, ops.softmax(x, { scale: 0.7 }), ops.softmax(gx, { scale: 0.7 }), 1e-6);
    compare(t, `rmsnorm ${tag}`, ops.rmsnorm(x, w, 1e-6), ops.rmsnorm(gx, gw, 1e-6), 1e-5);
    compare(t, `cast bf16 ${tag}`, ops.cast(x, 'bfloat16'), ops.cast(gx, 'bfloat16'), 0);
    const ids = Tensor.from(new Int32Array([0, rows - 1, 0]), [3]);
    compare(t, `embedding ${tag}`, ops.embedding(ids, x), ops.embedding(onGpu(ids), gx), 0);
  }
});

// ---- attention, rotary, row scatter, GELU -----------------------------------------------------

/** lse rows that see no key are -inf on both sides; the rest compared as numbers. */
function compareLse(t, name, cpuLse, gpuLse, tol) {
  const a = gpuLse.toArray(), b = cpuLse.toArray();
  const badInf = a.findIndex((x, i) => (x === -Infinity) !== (b[i] === -Infinity));
  t.true(badInf < 0, `${name}: lse -inf pattern differs at ${badInf} (cuda ${a[badInf]}, cpu ${b[badInf]})`);
  const finite = (v) => Array.from(v, (x) => (x === -Infinity ? 0 : x));
  const { worst, at } = maxAbsDiff(finite(a), finite(b));
  t.true(worst <= tol, `${name}: lse max |cuda - cpu| = ${worst} at ${at} (tolerance ${tol})`);
}

/**
 * Fresh random q, k, v for an attention case ({ label, lensQ, lensK, Hq, Hkv, D, causal?, packed? }:
 * sequence lengths, heads, head size), the options that pack and mask them, and a test name.
 */
function attentionInputs(op, c) {
  const seed = freshSeed();
  const cuQ = [0], cuK = [0];
  c.lensQ.forEach((l) => cuQ.push(cuQ.at(-1) + l));
  c.lensK.forEach((l) => cuK.push(cuK.at(-1) + l));
  const Tq = cuQ.at(-1), Tk = cuK.at(-1);
  return {
    Tq, Tk, seed,
    q: Tensor.from(randomArray(Tq * c.Hq * c.D, seed, -2, 2), [Tq, c.Hq, c.D]),
    k: Tensor.from(randomArray(Tk * c.Hkv * c.D, seed + 1, -2, 2), [Tk, c.Hkv, c.D]),
    v: Tensor.from(randomArray(Tk * c.Hkv * c.D, seed + 2), [Tk, c.Hkv, c.D]),
    opts: { causal: c.causal ?? false, ...(c.packed ? { cuSeqlensQ: Int32Array.from(cuQ), cuSeqlensK: Int32Array.from(cuK) } : {}) },
    name: `${op} ${c.label} [Tq ${Tq}, Tk ${Tk}, Hq ${c.Hq}, Hkv ${c.Hkv}, D ${c.D}] seed ${seed}`,
  };
}

opTest(['attention'], 'attention: causal, chunked, decode, packed varlen, GQA, head sizes 64/80/128, lse', (t) => {
  const cases = [
    { label: 'non-causal', lensQ: [5], lensK: [9], Hq: 2, Hkv: 2, D: 64 },
    { label: 'causal', lensQ: [37], lensK: [37], Hq: 4, Hkv: 2, D: 80, causal: true },
    { label: 'chunked causal Tq < Tk', lensQ: [7], lensK: [100], Hq: 14, Hkv: 2, D: 64, causal: true },
    { label: 'decode Tq = 1', lensQ: [1], lensK: [301], Hq: 16, Hkv: 2, D: 128, causal: true },
    { label: 'packed varlen', lensQ: [1, 9, 33, 4], lensK: [1, 9, 33, 4], Hq: 3, Hkv: 1, D: 80, packed: true },
    { label: 'packed causal chunks', lensQ: [3, 1, 17], lensK: [5, 8, 17], Hq: 4, Hkv: 2, D: 128, causal: true, packed: true },
    { label: 'causal lenK < lenQ (rows see no key)', lensQ: [10], lensK: [4], Hq: 2, Hkv: 2, D: 16, causal: true },
    { label: 'packed, a sequence without keys', lensQ: [2, 3], lensK: [0, 5], Hq: 2, Hkv: 1, D: 8, packed: true },
    { label: 'size 1', lensQ: [1], lensK: [1], Hq: 1, Hkv: 1, D: 1 },
    { label: 'GQA g = 7, odd head size', lensQ: [19], lensK: [19], Hq: 7, Hkv: 1, D: 33, causal: true },
    { label: 'head size 256', lensQ: [9], lensK: [70], Hq: 2, Hkv: 1, D: 256, causal: true },
  ];
  for (const c of cases) {
    const { Tq, q, k, v, opts, name } = attentionInputs('attention', c);
    const cpuLse = Tensor.full([c.Hq, Tq], NaN);
    const cpu = ops.attention(q, k, v, { ...opts, lse: cpuLse });
    const out = Tensor.full([Tq, c.Hq, c.D], NaN, { device: 'cuda' });
    const lse = Tensor.full([c.Hq, Tq], NaN, { device: 'cuda' });
    ops.attention(onGpu(q), onGpu(k), onGpu(v), { ...opts, lse, out });
    compare(t, name, cpu, out, 5e-5);  // both ~1e-5 from float64: fp32 sums in different orders
    compareLse(t, name, cpuLse, lse, 5e-5);
  }
});

opTest(['attentionBackward'], 'attentionBackward: windows, full, causal (Tq = Tk and Tq < Tk), GQA, head sizes 2 to 256', (t) => {
  const cases = [
    { label: 'size 1', lensQ: [1], lensK: [1], Hq: 1, Hkv: 1, D: 2 },
    { label: 'vision windows', lensQ: [64, 64, 37, 1, 50], lensK: [64, 64, 37, 1, 50], Hq: 4, Hkv: 4, D: 80, packed: true },
    { label: 'full attention', lensQ: [300], lensK: [300], Hq: 2, Hkv: 2, D: 80 },
    { label: 'causal, GQA 4/2', lensQ: [77], lensK: [77], Hq: 4, Hkv: 2, D: 128, causal: true },
    { label: 'causal Tq < Tk, GQA 2/1', lensQ: [19], lensK: [150], Hq: 2, Hkv: 1, D: 64, causal: true },
    { label: 'causal Tq > Tk (rows see no key)', lensQ: [10], lensK: [4], Hq: 2, Hkv: 2, D: 6, causal: true },
    { label: 'packed causal chunks', lensQ: [3, 1, 17], lensK: [5, 8, 17], Hq: 4, Hkv: 2, D: 10, causal: true, packed: true },
    { label: 'packed, no keys / no queries', lensQ: [2, 3, 0], lensK: [0, 5, 2], Hq: 2, Hkv: 1, D: 8, packed: true },
    { label: 'GQA g = 7, odd head size', lensQ: [19], lensK: [19], Hq: 7, Hkv: 1, D: 33, causal: true },
    { label: 'head size 256', lensQ: [9], lensK: [70], Hq: 2, Hkv: 1, D: 256, causal: true },
  ];
  for (const c of cases) {
    const { Tq, Tk, q, k, v, opts, name, seed } = attentionInputs('attentionBackward', c);
    const dout = Tensor.from(randomArray(Tq * c.Hq * c.D, seed + 3), [Tq, c.Hq, c.D]);
    const lse = Tensor.full([c.Hq, Tq], NaN);
    const out = ops.attention(q, k, v, { ...opts, lse });
    const cpu = ops.attentionBackward(q, k, v, out, lse, dout, opts);
    // The same forward results on both sides; CUDA outputs poisoned.
    const gpu = { dq: Tensor.full([Tq, c.Hq, c.D], NaN, { device: 'cuda' }), dk: Tensor.full([Tk, c.Hkv, c.D], NaN, { device: 'cuda' }), dv: Tensor.full([Tk, c.Hkv, c.D], NaN, { device: 'cuda' }) };
    native().attentionBackward(onGpu(q).handle, onGpu(k).handle, onGpu(v).handle, onGpu(out).handle, onGpu(lse).handle, onGpu(dout).handle,
      gpu.dq.handle, gpu.dk.handle, gpu.dv.handle, opts);
    for (const g of ['dq', 'dk', 'dv']) {
      const size = cpu[g].toArray().reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      compare(t, `${name} ${g}`, cpu[g], gpu[g], 2e-5 * Math.max(1, size));  // both ~1e-6 from float64
    }
  }
});

opTest(['rope', 'scatterRows', 'gelu'], 'rope (also in place), scatterRows, gelu', (t) => {
  for (const [T, H, D] of [[1, 1, 2], [7, 3, 10], [33, 14, 64], [5, 2, 128]]) {
    const seed = freshSeed();
    const x = Tensor.from(randomArray(T * H * D, seed, -3, 3), [T, H, D]);
    const cos = Tensor.from(randomArray(T * D / 2, seed + 1), [T, D / 2]);
    const sin = Tensor.from(randomArray(T * D / 2, seed + 2), [T, D / 2]);
    const cpu = ops.rope(x, cos, sin);
    const gx = onGpu(x);
    const tag = `[${T}, ${H}, ${D}] seed ${seed}`;
    compare(t, `rope ${tag}`, cpu, ops.rope(gx, onGpu(cos), onGpu(sin)), 1e-6);
    ops.rope(gx, onGpu(cos), onGpu(sin), { inPlace: true });
    compare(t, `rope in place ${tag}`, cpu, gx, 1e-6);
  }
  for (const [rows, dim, count] of [[1, 1, 1], [9, 7, 4], [300, 896, 257]]) {
    const seed = freshSeed();
    const r = rng(seed);
    const idx = Int32Array.from(Array.from({ length: rows }, (_, i) => i).sort(() => r.next() - 0.5).slice(0, count));
    const dst = Tensor.from(randomArray(rows * dim, seed), [rows, dim]);
    const src = Tensor.from(randomArray(count * dim, seed + 1), [count, dim]);
    const gdst = onGpu(dst);
    ops.scatterRows(dst, idx, src);
    ops.scatterRows(gdst, idx, onGpu(src));
    compare(t, `scatterRows [${rows}, ${dim}] <- ${count} rows seed ${seed}`, dst, gdst, 0);
  }
  {  // a repeated index: the row is one of the rows written there, whole (on the CPU too)
    const dst = Tensor.full([3, 5], NaN, { device: 'cuda' });
    const src = Tensor.from(Float32Array.from({ length: 15 }, (_, i) => i), [3, 5]);
    ops.scatterRows(dst, new Int32Array([1, 1, 1]), onGpu(src));
    const row = Array.from(dst.toArray().subarray(5, 10));
    t.true([0, 1, 2].some((s) => row.every((x, i) => x === s * 5 + i)), `scatterRows repeated index: row 1 is [${row}]`);
  }
  for (const n of [1, 7, 4099]) {
    const seed = freshSeed();
    const x = Tensor.from(randomArray(n, seed, -6, 6), [n]);
    compare(t, `gelu [${n}] seed ${seed}`, ops.gelu(x), ops.gelu(onGpu(x)), 1e-6);
  }
});

// ---- sampling ---------------------------------------------------------------------------------
// The CUDA sampler keeps the CPU's kept-set order and computes the CPU's weights and normaliser
// bitwise, so the same (seed, sequenceId, step) should give the same token. Its other sums
// (kept mass, running sum of the draw) are float64 in another order: a row whose u·mass falls
// within ~1e-14 of a token boundary may differ, so most rows (not all) must agree, and the
// distributions are compared by a chi-square test.

function randomLogits(seed, rows, vocab, scale = 2) {
  const r = rng(seed);
  return Tensor.from(Float32Array.from({ length: rows * vocab }, () => r.normal() * scale), [rows, vocab]);
}

/** The same sampling call on both backends, results as arrays. */
function sampleBoth(logits, params) {
  const read = (res) => ({ tokens: res.tokens.toArray(), logprobs: res.logprobs.toArray(), raw: res.rawLogprobs.toArray() });
  const gpu = ops.sample(onGpu(logits), params);
  if (gpu.tokens.device !== 'cuda') throw new Error(`sample on CUDA logits returned ${gpu.tokens.device} tensors`);
  return { cpu: read(ops.sample(logits, params)), gpu: read(gpu) };
}

opTest(['sample'], 'sample: greedy is the CPU argmax; seeded draws pick the CPU tokens', (t) => {
  const V = 4099;
  const configs = [
    { name: 'greedy', temperature: 0 },
    { name: 'temperature 0.7', temperature: 0.7 },
    { name: 'top-k 40', topK: 40 },
    { name: 'top-p 0.9', topP: 0.9 },
    { name: 'min-p 0.05', minP: 0.05 },
    { name: 'top-k 200 + top-p 0.8 + min-p 0.02, T 1.3', temperature: 1.3, topK: 200, topP: 0.8, minP: 0.02 },
    { name: 'top-p 0.5 on flat logits', topP: 0.5, scale: 0.05 },
    { name: 'top-p 0.6 on tied logits', topP: 0.6, ties: true },
    { name: 'penalties', repetitionPenalty: 1.3, presencePenalty: 0.5, frequencyPenalty: 0.2, topP: 0.95, history: true },
    { name: 'penalties, greedy', temperature: 0, repetitionPenalty: 1.3, presencePenalty: 0.5, frequencyPenalty: 0.2, history: true },
  ];
  for (const { name, scale = 2, ties, history, ...params } of configs) {
    const seed = freshSeed();
    const rows = 61;
    const r = rng(seed + 1);
    let logits = randomLogits(seed, rows, V, scale);
    if (ties) logits = Tensor.from(logits.toArray().map((x) => Math.round(x)), [rows, V]);
    const p = { ...params, seed: seed * 7 + 3, step: Array.from({ length: rows }, () => r.int(1000)) };
    if (history) {
      p.outputTokens = Array.from({ length: rows }, () => Array.from({ length: r.int(30) }, () => r.int(V)));
      p.promptTokens = Array.from({ length: rows }, () => Array.from({ length: r.int(30) }, () => r.int(V)));
    }
    const { cpu, gpu } = sampleBoth(logits, p);
    let same = 0, worstLp = 0, worstRaw = 0;
    for (let i = 0; i < rows; i++) {
      if (cpu.tokens[i] !== gpu.tokens[i]) continue;
      same++;
      worstLp = Math.max(worstLp, Math.abs(cpu.logprobs[i] - gpu.logprobs[i]));
      worstRaw = Math.max(worstRaw, Math.abs(cpu.raw[i] - gpu.raw[i]));
    }
    const tag = `sample ${name} [${rows}, ${V}] seed ${seed}`;
    if (params.temperature === 0) t.is(same, rows, `${tag}: greedy tokens differ on ${rows - same} rows`);
    else t.true(same >= rows - 1, `${tag}: only ${same} of ${rows} rows drew the CPU's token`);
    t.true(worstLp <= 1e-4 && worstRaw <= 1e-4, `${tag}: logprob differs by ${worstLp}, raw logprob by ${worstRaw}`);
  }
});

gpuTest('sample: vocabulary 151936, top-k 1, top-p 1, vocabulary 1', (t) => {
  const seed = freshSeed();
  const big = randomLogits(seed, 3, 151936, 3);
  for (const params of [{ temperature: 0 }, { topP: 0.9 }, { topK: 50, topP: 0.95 }, {}]) {
    const { cpu, gpu } = sampleBoth(big, { ...params, seed });
    const tag = `sample ${JSON.stringify(params)} [3, 151936] seed ${seed}`;
    t.deepEqual(Array.from(gpu.tokens), Array.from(cpu.tokens), `${tag}: tokens`);
    t.true(maxAbsDiff(gpu.raw, cpu.raw).worst <= 1e-4, `${tag}: raw logprobs`);
  }
  const logits = onGpu(randomLogits(seed, 17, 1001));
  const tokens = (params) => Array.from(ops.sample(logits, { seed, ...params }).tokens.toArray());
  t.deepEqual(tokens({ topK: 1 }), tokens({ temperature: 0 }), `top-k 1 is greedy, seed ${seed}`);
  t.deepEqual(tokens({ topP: 1 }), tokens({}), `top-p 1 changes nothing, seed ${seed}`);
  t.deepEqual(tokens({ topK: 1001, minP: 0 }), tokens({}), `top-k >= vocab changes nothing, seed ${seed}`);
  const one = ops.sample(Tensor.from(new Float32Array([0.5, -3]), [2, 1]).to('cuda'), { topP: 0.5 });
  t.deepEqual(Array.from(one.tokens.toArray()), [0, 0], 'vocabulary 1');
  t.deepEqual(Array.from(one.logprobs.toArray()), [0, 0], 'vocabulary 1: logprob 0');
});

gpuTest('sample: NaN, +Infinity and fully masked rows are errors naming the row', (t) => {
  const rows = (fill) => {
    const a = randomArray(4 * 9, freshSeed());
    fill(a);
    return Tensor.from(a, [4, 9]).to('cuda');
  };
  const nan = rows((a) => { a[2 * 9 + 4] = NaN; });
  t.throws(() => ops.sample(nan), { message: /row 2 contains NaN/ });
  t.throws(() => ops.sample(nan, { temperature: 0 }), { message: /row 2 contains NaN/ });
  t.throws(() => ops.sample(rows((a) => { a[5] = Infinity; })), { message: /row 0 contains \+Infinity/ });
  const masked = rows((a) => a.fill(-Infinity, 9, 18));
  t.throws(() => ops.sample(masked, { topP: 0.9 }), { message: /row 1 has no finite logit/ });
  t.throws(() => ops.sample(masked, { temperature: 0 }), { message: /row 1 has no finite logit/ });
});

gpuTest('sample: 10^5 CUDA draws of one row follow the CPU distribution (chi-square)', (t) => {
  const DRAWS = 100_000, V = 30;
  for (const params of [{ temperature: 0.9, topK: 20, topP: 0.9, minP: 0.02 }, { topP: 0.7, ties: true }, {}]) {
    const { ties, ...p } = params;
    const seed = freshSeed();
    let row = randomLogits(seed, 1, V, 1.5).toArray();
    if (ties) row = row.map((x) => Math.round(x * 2) / 2);
    const logits = Tensor.from(new Float32Array(DRAWS * V).map((_, i) => row[i % V]), [DRAWS, V]);
    // Independent uniforms on the two backends (different seeds): a two-sample test.
    const cpu = ops.sample(logits, { ...p, seed });
    const gpu = ops.sample(onGpu(logits), { ...p, seed: seed + 1 });
    const count = (tokens) => tokens.reduce((c, x) => { c[x]++; return c; }, new Array(V).fill(0));
    const cTok = cpu.tokens.toArray(), cLp = cpu.logprobs.toArray(), gTok = gpu.tokens.toArray(), gLp = gpu.logprobs.toArray();
    const a = count(cTok), b = count(gTok);
    // Pearson's two-sample statistic, bins with fewer than 10 draws in all pooled.
    let stat = 0, bins = 0, pa = 0, pb = 0;
    for (let i = 0; i < V; i++) {
      if (a[i] + b[i] < 10) { pa += a[i]; pb += b[i]; continue; }
      stat += (a[i] - b[i]) ** 2 / (a[i] + b[i]);
      bins++;
    }
    if (pa + pb > 0) { stat += (pa - pb) ** 2 / (pa + pb); bins++; }
    const pValue = bins > 1 ? gammaQ((bins - 1) / 2, stat / 2) : 1;
    const tag = `sample ${JSON.stringify(params)} chi-square, ${DRAWS} draws, seed ${seed}`;
    t.true(pValue >= 1e-4, `${tag}: p = ${pValue} (statistic ${stat}, ${bins - 1} df)`);
    // Every token the GPU drew has the CPU's processed probability.
    const cpuLp = new Map();
    cTok.forEach((x, i) => cpuLp.set(x, cLp[i]));
    let worst = 0;
    for (let i = 0; i < DRAWS; i++) if (cpuLp.has(gTok[i])) worst = Math.max(worst, Math.abs(cpuLp.get(gTok[i]) - gLp[i]));
    t.true(worst <= 1e-4, `${tag}: processed logprob of a drawn token differs by ${worst}`);
  }
});

// ---- backward ops (training) -------------------------------------------------------------------

opTest(['gemm'], 'gemm transA (weight gradients dW = dYᵀ·X): both layouts of b, batch, beta accumulate, odd sizes', (t) => {
  for (const [M, K, N, batch] of [[1, 1, 1, 1], [1, 300, 7, 1], [45, 129, 37, 1], [67, 1100, 257, 1], [5, 9, 11, 3]]) {
    for (const transB of [false, true]) {
      const seed = freshSeed();
      const lead = batch === 1 ? [] : [batch];
      const a = Tensor.from(randomArray(batch * M * K, seed), [...lead, K, M]);
      const b = Tensor.from(randomArray(K * N, seed + 1), transB ? [N, K] : [K, N]);
      const c0 = Tensor.from(randomArray(batch * M * N, seed + 2), [...lead, M, N]);
      const cpu = ops.matmul(a, b, { transA: true, transB, beta: 1, out: Tensor.from(c0.toArray(), c0.shape) });
      const out = onGpu(c0);
      ops.matmul(onGpu(a), onGpu(b), { transA: true, transB, beta: 1, out });
      compare(t, `gemm transA ${batch}x(${M}x${K}x${N}) transB=${transB} seed ${seed}`, cpu, out, 1e-4 * Math.sqrt(K));
    }
  }
});

const nanOnGpu = (shape) => Tensor.full(shape, NaN, { device: 'cuda' });

opTest(['rmsnormBackward', 'swigluBackward', 'geluBackward', 'softmaxBackward', 'sumRows'],
  'rmsnorm (with dweight accumulate, f32/bf16/no weight), swiglu, gelu, softmax backward; column sums', (t) => {
    for (const [rows, dim] of [[1, 1], [3, 7], [17, 896], [2, 4099], [300, 33]]) {
      const seed = freshSeed();
      const tag = `[${rows}, ${dim}] seed ${seed}`;
      const x = Tensor.from(randomArray(rows * dim, seed, -3, 3), [rows, dim]);
      const dy = Tensor.from(randomArray(rows * dim, seed + 1), [rows, dim]);
      const u = Tensor.from(randomArray(rows * dim, seed + 2, -2, 2), [rows, dim]);
      const w32 = Tensor.from(randomArray(dim, seed + 3, 0.5, 1.5), [dim]);
      const gx = onGpu(x), gdy = onGpu(dy), gu = onGpu(u);
      for (const w of [w32, ops.cast(w32, 'bfloat16'), null]) {
        const invRms = Tensor.full([rows], NaN);
        ops.rmsnorm(x, w, 1e-6, { invRms });
        const dw0 = Tensor.from(randomArray(dim, seed + 4), [dim]);
        const cpuDw = Tensor.from(dw0.toArray(), [dim]), gpuDw = onGpu(dw0);
        const cpu = ops.rmsnormBackward(dy, x, w, invRms, { dweight: cpuDw });
        const dx = nanOnGpu([rows, dim]);
        native().rmsnormBackward(gdy.handle, gx.handle, w ? onGpu(w).handle : null, onGpu(invRms).handle, dx.handle, gpuDw.handle);
        compare(t, `rmsnormBackward dx weight ${w?.dtype ?? 'none'} ${tag}`, cpu, dx, 1e-5);
        compare(t, `rmsnormBackward dweight weight ${w?.dtype ?? 'none'} ${tag}`, cpuDw, gpuDw, 1e-5 * Math.sqrt(rows));
      }
      const sw = ops.swigluBackward(dy, x, u);
      const dg = nanOnGpu([rows, dim]), du = nanOnGpu([rows, dim]);
      native().swigluBackward(gdy.handle, gx.handle, gu.handle, dg.handle, du.handle);
      compare(t, `swigluBackward dgate ${tag}`, sw.dgate, dg, 1e-5);
      compare(t, `swigluBackward dup ${tag}`, sw.dup, du, 1e-5);
      const gd = nanOnGpu([rows, dim]);
      native().geluBackward(gdy.handle, gx.handle, gd.handle);
      compare(t, `geluBackward ${tag}`, ops.geluBackward(dy, x), gd, 1e-5);
      const y = ops.softmax(x, { scale: 0.7 });
      const sd = nanOnGpu([rows, dim]);
      native().softmaxBackward(onGpu(y).handle, gdy.handle, sd.handle, 0.7);
      compare(t, `softmaxBackward ${tag}`, ops.softmaxBackward(y, dy, { scale: 0.7 }), sd, 1e-6);
      const sums = nanOnGpu([dim]);
      ops.sumRows(gx, sums);
      compare(t, `sumRows ${tag}`, ops.sumRows(x, Tensor.full([dim], NaN)), sums, 1e-5 * Math.sqrt(rows));
      const acc0 = Tensor.from(randomArray(dim, seed + 5), [dim]);
      const gacc = onGpu(acc0);
      ops.sumRows(gx, gacc, { accumulate: true });
      compare(t, `sumRows accumulate ${tag}`, ops.sumRows(x, acc0, { accumulate: true }), gacc, 1e-5 * Math.sqrt(rows));
    }
  });

opTest(['ropeBackward', 'embeddingBackward'], 'rope backward; embedding backward (scatter-add with repeated ids)', (t) => {
  for (const [T, H, D] of [[1, 1, 2], [7, 3, 10], [33, 14, 64]]) {
    const seed = freshSeed();
    const dy = Tensor.from(randomArray(T * H * D, seed, -3, 3), [T, H, D]);
    const cos = Tensor.from(randomArray(T * D / 2, seed + 1), [T, D / 2]);
    const sin = Tensor.from(randomArray(T * D / 2, seed + 2), [T, D / 2]);
    const dx = nanOnGpu([T, H, D]);
    native().ropeBackward(onGpu(dy).handle, onGpu(cos).handle, onGpu(sin).handle, dx.handle);
    compare(t, `ropeBackward [${T}, ${H}, ${D}] seed ${seed}`, ops.ropeBackward(dy, cos, sin), dx, 1e-6);
  }
  for (const [rows, dim, count] of [[1, 1, 1], [5, 7, 9], [50, 896, 300]]) {
    const seed = freshSeed();
    const r = rng(seed);
    const ids = Tensor.from(Int32Array.from({ length: count }, () => r.int(rows)), [count]);
    const dy = Tensor.from(randomArray(count * dim, seed + 1), [count, dim]);
    const table0 = Tensor.from(randomArray(rows * dim, seed + 2), [rows, dim]);
    const gtable = onGpu(table0);
    ops.embeddingBackward(onGpu(ids), onGpu(dy), gtable);
    ops.embeddingBackward(ids, dy, table0);
    compare(t, `embeddingBackward [${rows}, ${dim}] <- ${count} ids seed ${seed}`, table0, gtable, 0);
  }
});

// ---- the rest of the op list ------------------------------------------------------------------

opTest(['gemmGroup'], 'linears (grouped q/k/v and gate/up products): decode and prefill sizes', (t) => {
  for (const [M, K, Ns] of [[1, 7, [3, 5, 5]], [4, 129, [67, 33]], [19, 64, [1, 130, 17]]]) {
    for (const dtype of ['float32', 'bfloat16']) {
      const seed = freshSeed();
      const x = Tensor.from(randomArray(M * K, seed), [M, K]);
      const ws = Ns.map((N, i) => {
        const w = Tensor.from(randomArray(N * K, seed + 1 + i), [N, K]);
        return dtype === 'float32' ? w : ops.cast(w, dtype);
      });
      const biases = Ns.map((N, i) => (i === 0 ? Tensor.from(randomArray(N, seed + 9), [N]) : undefined));
      const cpu = ops.linears(x, ws, biases);
      const outs = Ns.map((N) => Tensor.full([M, N], NaN, { device: 'cuda' }));
      ops.linears(onGpu(x), ws.map(onGpu), biases.map((b) => b && onGpu(b)), outs);
      cpu.forEach((c, i) => compare(t, `linears ${M}x${K} part ${i} (N ${Ns[i]}) ${dtype} seed ${seed}`, c, outs[i], 1e-4 * Math.sqrt(K)));
    }
  }
});

opTest(['resizeBicubic'], 'resizeBicubic is CPU-only: CUDA tensors get an error naming the op', (t) => {
  const src = Tensor.empty([4, 4, 3], { dtype: 'uint8', device: 'cuda' });
  const dst = Tensor.empty([2, 2, 3], { dtype: 'uint8', device: 'cuda' });
  t.throws(() => native().resizeBicubic(src.handle, dst.handle), { message: /resizeBicubic has no CUDA kernel/ });
});

// ---- losses: token log-probs (chunked over lm_head) and the GRPO per-token loss --------------

opTest(['tokenLogprobs', 'tokenLogprobsBackward'], 'tokenLogprobs forward/backward (separate and fused): lm_head f32/bf16 and logits, τ, uneven chunks, dLmHead accumulation', (t) => {
  for (const [N, V, H, chunkRows] of [[1, 1, 1, 0], [7, 37, 9, 3], [33, 4099, 65, 5], [130, 1000, 129, 0]]) {
    for (const dtype of ['float32', 'bfloat16']) {
      for (const tau of [1, 0.7]) {
        const seed = freshSeed();
        const r = rng(seed);
        const tag = `N ${N} V ${V} H ${H} ${dtype} τ ${tau} chunk ${chunkRows} seed ${seed}`;
        const hidden = Tensor.from(randomArray(N * H, seed, -2, 2), [N, H]);
        const w32 = Tensor.from(randomArray(V * H, seed + 1), [V, H]);
        const W = dtype === 'float32' ? w32 : ops.cast(w32, dtype);
        const targets = Tensor.from(Int32Array.from({ length: N }, () => r.int(V)), [N]);
        const dlogp = Tensor.from(Float32Array.from({ length: N }, (_, i) => (i % 4 === 1 ? 0 : r.uniform(-1, 1))), [N]);
        const dW0 = Tensor.from(randomArray(V * H, seed + 2), [V, H]);
        const opts = { temperature: tau, chunkRows, entropy: true };
        const cpu = ops.tokenLogprobs(hidden, W, targets, opts);
        const gpu = ops.tokenLogprobs(onGpu(hidden), onGpu(W), onGpu(targets), opts);
        compare(t, `logp ${tag}`, cpu.logp, gpu.logp, 1e-4);
        compare(t, `lse ${tag}`, cpu.lse, gpu.lse, 1e-4);
        compare(t, `entropy ${tag}`, cpu.entropy, gpu.entropy, 1e-4);
        const dWcpu = dW0.clone(), dWgpu = onGpu(dW0);
        const dxCpu = ops.tokenLogprobsBackward(hidden, W, targets, cpu.lse, dlogp, { temperature: tau, chunkRows, dLmHead: dWcpu });
        const dxGpu = Tensor.full([N, H], NaN, { device: 'cuda' });
        native().tokenLogprobsBackward(onGpu(hidden).handle, onGpu(W).handle, onGpu(targets).handle, gpu.lse.handle, onGpu(dlogp).handle,
          dxGpu.handle, dWgpu.handle, { temperature: tau, chunkRows });
        compare(t, `dhidden ${tag}`, dxCpu, dxGpu, 1e-4 * Math.sqrt(V));
        compare(t, `dLmHead ${tag}`, dWcpu, dWgpu, 1e-4 * Math.sqrt(N));
        // the fused backward (grad carried by the forward) on the GPU vs the CPU's separate passes
        const fusedW = onGpu(dW0);
        const fused = ops.tokenLogprobs(onGpu(hidden), onGpu(W), onGpu(targets), { ...opts, grad: { dlogp: onGpu(dlogp), dLmHead: fusedW } });
        compare(t, `fused logp ${tag}`, cpu.logp, fused.logp, 1e-4);
        compare(t, `fused dhidden ${tag}`, dxCpu, fused.dhidden, 1e-4 * Math.sqrt(V));
        compare(t, `fused dLmHead ${tag}`, dWcpu, fusedW, 1e-4 * Math.sqrt(N));
        // logits in, logits' gradient out
        const logits = Tensor.from(randomArray(N * V, seed + 3, -4, 4), [N, V]);
        const lc = ops.tokenLogprobs(logits, null, targets, opts), lg = ops.tokenLogprobs(onGpu(logits), null, onGpu(targets), opts);
        compare(t, `logp (logits) ${tag}`, lc.logp, lg.logp, 1e-4);
        compare(t, `entropy (logits) ${tag}`, lc.entropy, lg.entropy, 1e-4);
        const dl = Tensor.full([N, V], NaN, { device: 'cuda' });
        native().tokenLogprobsBackward(onGpu(logits).handle, null, onGpu(targets).handle, lg.lse.handle, onGpu(dlogp).handle, dl.handle, null, { temperature: tau });
        compare(t, `dlogits ${tag}`, ops.tokenLogprobsBackward(logits, null, targets, lc.lse, dlogp, { temperature: tau }), dl, 1e-5);
      }
    }
  }
});

opTest(['grpoTokenLoss'], 'grpoTokenLoss: every loss type, token and sequence level, δ, β, empty rows', (t) => {
  for (const [B, T] of [[1, 1], [8, 7], [37, 129]]) {
    for (const lossType of ['grpo', 'bnpo', 'dr_grpo', 'dapo', 'cispo', 'sapo']) {
      for (const importanceSamplingLevel of ['token', 'sequence']) {
        const seed = freshSeed();
        const r = rng(seed);
        const tag = `B ${B} T ${T} ${lossType} ${importanceSamplingLevel} seed ${seed}`;
        const bt = (f) => Tensor.from(Float32Array.from({ length: B * T }, f), [B, T]);
        const logp = bt(() => r.uniform(-5, 0)), oldLogp = bt(() => r.uniform(-5, 0)), refLogp = bt(() => r.uniform(-5, 0));
        const entropy = bt(() => r.uniform(0, 3));
        const mask = bt((_, i) => (Math.floor(i / T) === 1 ? 0 : r.next() < 0.8 ? 1 : 0));  // row 1 empty
        const advantages = Tensor.from(Float32Array.from({ length: B }, () => r.uniform(-2, 2)), [B]);
        const config = { lossType, importanceSamplingLevel, beta: 0.04, epsilonLow: 0.2, epsilonHigh: 0.28, delta: r.next() < 0.5 ? 1.5 : null,
          maxCompletionLength: T + 1, numItems: 1 + r.int(B * T), gradientAccumulationSteps: 2 };
        const inputs = { logp, oldLogp, refLogp, advantages, mask, entropy };
        const cpu = ops.grpoTokenLoss(inputs, config);
        const gpuInputs = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, onGpu(v)]));
        const gpu = ops.grpoTokenLoss(gpuInputs, config);
        for (const k of ['dlogp', 'perTokenLoss', 'coef1', 'coef2', 'kl']) compare(t, `${k} ${tag}`, cpu[k], gpu[k], 1e-5);
        for (const [k, v] of Object.entries(cpu.stats)) t.true(Math.abs(v - gpu.stats[k]) <= 1e-5 * (1 + Math.abs(v)), `stats.${k} ${tag}: cpu ${v}, cuda ${gpu.stats[k]}`);
      }
    }
  }
});

// ---- optimiser ---------------------------------------------------------------------------------

opTest(['adamw', 'sumOfSquares'], 'adamwStep over a tensor list (bf16/f32 model copies, decay, gradScale), sumOfSquares in float64', (t) => {
  const sizes = [1, 7, 1000, 65536 + 3, 2 * 65536 + 1];
  const seed = freshSeed();
  const weightDecay = sizes.map((_, i) => 0.1 * (i % 3));
  const fresh = (k, lo, hi) => sizes.map((n, i) => randomArray(n, seed + 100 * k + i, lo, hi));
  const [p0, m0, v0] = [fresh(1, -1, 1), fresh(2, -0.1, 0.1), fresh(3, 0, 0.01)];
  const cpu = { p: p0.map((a) => Tensor.from(a)), m: m0.map((a) => Tensor.from(a)), v: v0.map((a) => Tensor.from(a)) };
  const gpu = { p: cpu.p.map(onGpu), m: cpu.m.map(onGpu), v: cpu.v.map(onGpu) };
  const modelFor = (device) => sizes.map((n, i) => (i === 4 ? undefined
    : i % 2 === 0 ? ops.cast(Tensor.full([n], NaN, { device }), 'bfloat16') : Tensor.full([n], NaN, { device })));
  const cpuModel = modelFor('cpu'), gpuModel = modelFor('cuda');
  for (let step = 1; step <= 3; step++) {
    const grads = fresh(10 + step, -1, 1).map((a) => Tensor.from(a));
    const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay, step, gradScale: step === 2 ? 0.5 : 1 };
    ops.adamwStep(cpu.p, grads, cpu.m, cpu.v, hyper, cpuModel);
    ops.adamwStep(gpu.p, grads.map(onGpu), gpu.m, gpu.v, hyper, gpuModel);
    const cpuSq = ops.sumOfSquares(grads), gpuSq = ops.sumOfSquares(grads.map(onGpu));
    t.true(Math.abs(gpuSq - cpuSq) <= 1e-10 * cpuSq, `sumOfSquares step ${step}: cuda ${gpuSq}, cpu ${cpuSq}, seed ${seed}`);
  }
  // The CUDA kernel does the CPU kernel's IEEE operations in the same order (explicit fmaf), so
  // it should agree bit for bit; the pass criterion is a tolerance, the exact count is logged.
  const identical = sizes.reduce((k, _, i) => k + (maxAbsDiff(gpu.p[i].toArray(), cpu.p[i].toArray()).worst === 0 ? 1 : 0), 0);
  t.log(`adamw: ${identical} of ${sizes.length} parameter tensors bit-identical between CUDA and CPU`);
  sizes.forEach((n, i) => {
    const tag = `tensor ${i} (size ${n}) after 3 steps, seed ${seed}`;
    compare(t, `param ${tag}`, cpu.p[i], gpu.p[i], 1e-5);
    compare(t, `exp_avg ${tag}`, cpu.m[i], gpu.m[i], 1e-6);
    compare(t, `exp_avg_sq ${tag}`, cpu.v[i], gpu.v[i], 1e-7);
    if (!gpuModel[i]) return;
    // the model copy is the CUDA master itself, rounded to nearest even for bf16
    const master = gpu.p[i].toArray();
    const want = gpuModel[i].dtype === 'bfloat16' ? master.map(roundBf16) : master;
    const { worst, at } = maxAbsDiff(gpuModel[i].toArray(), want);
    t.is(worst, 0, `${gpuModel[i].dtype} model copy ${tag}: differs at ${at}`);
  });
  t.is(ops.sumOfSquares([]), 0);
  const withNaN = Tensor.from(new Float32Array([1, NaN]), [2], { device: 'cuda' });
  t.true(Number.isNaN(ops.sumOfSquares([gpu.p[0], withNaN])), 'a NaN gradient gives a NaN sum on CUDA');
});

checkOpCoverage();

gpuTest('Tensor.zeros on CUDA is zero where a freed NaN tensor lived, at odd sizes and size 1', (t) => {
  for (const n of [1, 7, 4099, 300_001]) {
    Tensor.full([n], NaN, { device: 'cuda' }).dispose();
    const z = Tensor.zeros([n], { device: 'cuda' });
    t.is(z.device, 'cuda');
    t.true(z.toArray().every((v) => Object.is(v, 0)), `size ${n}`);
    z.dispose();
  }
});
