// The native grpoTokenLoss op beyond the TRL golden cases (test/grpo-golden.test.js): every
// output written (poisoned with NaN beforehand) for every loss type and level on random
// shapes, loss = Σ mask·ℓ·weight, and errors that name the argument.
import test from 'ava';
import { Tensor, ops } from '../dist/index.js';
import { native } from '../dist/native.js';
import { freshSeed, rng } from './helpers.js';

const LOSS_TYPES = ['grpo', 'bnpo', 'dr_grpo', 'dapo', 'cispo', 'sapo'];

function randomInputs(seed, B, T) {
  const r = rng(seed);
  const bt = (f) => Tensor.from(Float32Array.from({ length: B * T }, f), [B, T]);
  return {
    logp: bt(() => r.uniform(-5, 0)), oldLogp: bt(() => r.uniform(-5, 0)), refLogp: bt(() => r.uniform(-5, 0)),
    entropy: bt(() => r.uniform(0, 3)),
    mask: bt((_, i) => (B > 1 && Math.floor(i / T) === B - 1 ? 0 : r.next() < 0.7 ? 1 : 0)),
    advantages: Tensor.from(Float32Array.from({ length: B }, (_, b) => (b % 3 === 2 ? 0 : r.uniform(-2, 2))), [B]),
  };
}

test('grpoTokenLoss writes every output (poisoned) and its loss is Σ mask·ℓ·aggregation weight', (t) => {
  for (const [B, T] of [[1, 1], [3, 5], [8, 7], [5, 33]]) {
    for (const lossType of LOSS_TYPES) {
      for (const level of ['token', 'sequence']) {
        const seed = freshSeed();
        const tag = `B ${B} T ${T} ${lossType} ${level} seed ${seed}`;
        const x = randomInputs(seed, B, T);
        const outs = Object.fromEntries(['dlogp', 'perTokenLoss', 'coef1', 'coef2', 'kl'].map((k) => [k, Tensor.full([B, T], NaN)]));
        const stats = Tensor.full([9], NaN);
        const ga = 2, mcl = T + 3, numItems = 11;
        native().grpoTokenLoss(x.logp.handle, x.oldLogp.handle, x.refLogp.handle, x.advantages.handle, x.mask.handle, x.entropy.handle,
          { ...Object.fromEntries(Object.entries(outs).map(([k, v]) => [k, v.handle])), stats: stats.handle },
          { lossType, importanceSamplingLevel: level, beta: 0.04, epsilonLow: 0.2, epsilonHigh: 0.28, delta: 1.5,
            maxCompletionLength: mcl, numItems, gradientAccumulationSteps: ga });
        for (const [k, v] of Object.entries(outs)) {
          const bad = v.toArray().findIndex((e) => !Number.isFinite(e));
          t.is(bad, -1, `${k}[${bad}] not written or not finite (${tag})`);
        }
        const s = stats.toArray();
        t.true(s.every(Number.isFinite), `stats ${s} (${tag})`);
        // The scalar loss from the per-token losses and TRL's aggregation, in float64 here.
        const m = x.mask.toArray(), l = outs.perTokenLoss.toArray();
        const rowTokens = Array.from({ length: B }, (_, b) => m.slice(b * T, (b + 1) * T).reduce((a, c) => a + c, 0));
        const all = rowTokens.reduce((a, c) => a + c, 0);
        let expected = 0;
        for (let b = 0; b < B; b++) {
          let rowSum = 0;
          for (let i = 0; i < T; i++) rowSum += m[b * T + i] * l[b * T + i];
          if (lossType === 'grpo' || lossType === 'sapo') expected += rowSum / Math.max(rowTokens[b], 1) / B / ga;
          else if (lossType === 'bnpo') expected += rowSum / Math.max(all, 1) / ga;
          else if (lossType === 'dr_grpo') expected += rowSum / (B * mcl) / ga;
          else expected += rowSum / numItems;
        }
        t.true(Math.abs(s[0] - expected) <= 1e-5 * (1 + Math.abs(expected)), `loss ${s[0]}, expected ${expected} (${tag})`);
        t.is(s[1], all, `token count (${tag})`);
        const dl = outs.dlogp.toArray();
        t.true(dl.every((d, i) => m[i] !== 0 || d === 0), `gradient is exactly 0 on padding (${tag})`);
      }
    }
  }
});

test('grpoTokenLoss: no old log-probs means ratio 1 with the gradient still flowing (−A·weight per token for grpo)', (t) => {
  const seed = freshSeed();
  const B = 4, T = 6;
  const x = randomInputs(seed, B, T);
  const out = ops.grpoTokenLoss({ logp: x.logp, advantages: x.advantages, mask: x.mask }, { lossType: 'grpo', gradientAccumulationSteps: 1 });
  const m = x.mask.toArray(), A = x.advantages.toArray(), d = out.dlogp.toArray();
  t.true(out.coef1.toArray().every((c) => c === 1), `coef1 is 1 (seed ${seed})`);
  for (let b = 0; b < B; b++) {
    const n = Math.max(m.slice(b * T, (b + 1) * T).reduce((a, c) => a + c, 0), 1);
    for (let i = 0; i < T; i++) {
      const want = m[b * T + i] * -A[b] / n / B;
      t.true(Math.abs(d[b * T + i] - want) <= 1e-7, `dlogp[${b}, ${i}] = ${d[b * T + i]}, expected ${want} (seed ${seed})`);
    }
  }
});

test('grpoTokenLoss: bad arguments get errors naming them', (t) => {
  const x = randomInputs(1, 2, 3);
  const base = { logp: x.logp, advantages: x.advantages, mask: x.mask };
  t.throws(() => ops.grpoTokenLoss(base, { lossType: 'ppo' }), { message: /'lossType' must be one of/ });
  t.throws(() => ops.grpoTokenLoss(base, { lossType: 'grpo', beta: 0.1 }), { message: /'refLogp' is needed/ });
  t.throws(() => ops.grpoTokenLoss({ ...base, mask: Tensor.zeros([2, 4]) }, { lossType: 'grpo' }), { message: /'mask'/ });
  t.throws(() => ops.grpoTokenLoss({ ...base, advantages: Tensor.zeros([3]) }, { lossType: 'grpo' }), { message: /'advantages'/ });
  t.throws(() => ops.grpoTokenLoss(base, { lossType: 'dapo', numItems: 0 }), { message: /'numItems'/ });
  t.throws(() => ops.grpoTokenLoss(base, { lossType: 'grpo', epsilonLow: NaN }), { message: /'epsilonLow' must be a finite number/ });
  t.throws(() => ops.grpoTokenLoss(base, { lossType: 'grpo', importanceSamplingLevel: 'word' }), { message: /'importanceSamplingLevel'/ });
});
