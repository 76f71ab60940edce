// GRPO's advantages and loss exactly as Hugging Face TRL v0.26 GRPOTrainer computes them
// (formulas: test/fixtures/grpo/README.md). `grpoLoss` is the pure function over logits:
// per-token log-probs (native tokenLogprobs, logits as rows) → the per-token loss and its
// gradient with respect to the log-probs (native grpoTokenLoss, per micro-batch) → the
// gradient with respect to the logits (native tokenLogprobsBackward).
import { tokenLogprobs, tokenLogprobsBackward, grpoTokenLoss, type GrpoLossType, type GrpoTokenLoss } from '../ops/loss.js';
import { Tensor } from '../tensor.js';

/** A tensor as plain data: row-major values and their shape. */
export interface TensorData {
  data: ArrayLike<number> | ArrayLike<bigint>;
  shape: readonly number[];
}
export type ScaleRewards = 'group' | 'batch' | 'none';

const numbers = (a: ArrayLike<number> | ArrayLike<bigint>): Float64Array => Float64Array.from(a as ArrayLike<number>, Number);
const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function checkTensor(name: string, t: TensorData | undefined, rank: number): TensorData {
  if (!t || typeof t !== 'object' || !Array.isArray(t.shape) || t.data === undefined || typeof t.data.length !== 'number') {
    throw new TypeError(`grpoLoss: '${name}' must be { data, shape }`);
  }
  if (t.shape.length !== rank) throw new RangeError(`grpoLoss: '${name}' must have ${rank} dimensions, got [${t.shape.join(', ')}]`);
  if (size(t.shape) !== t.data.length) {
    throw new RangeError(`grpoLoss: '${name}' has ${t.data.length} values but shape [${t.shape.join(', ')}] needs ${size(t.shape)}`);
  }
  return t;
}

export interface AdvantagesInput {
  /** Rewards [B, K]: one column per reward function (NaN = not applicable, counted as 0). */
  rewardsPerFunc: TensorData;
  /** K weights; default all 1. */
  rewardWeights?: ArrayLike<number>;
  /** G: completions per prompt; rows are grouped by prompt (B = P·G). */
  groupSize: number;
  scaleRewards?: ScaleRewards;
}

export interface Advantages {
  /** Σ_k w_k·rewards[b, k] per completion. */
  rewards: Float64Array;
  meanGroupedRewards: Float64Array;
  /** Unbiased std of the group's rewards (of the whole batch with scaleRewards = 'batch'). */
  stdRewards: Float64Array;
  advantages: Float64Array;
  /** 1 where the std is (close to) zero: a group whose rewards are all equal. */
  isStdZero: Uint8Array;
}

/** Unbiased standard deviation (divisor n − 1; NaN for one value, as torch). */
function unbiasedStd(x: Float64Array): number {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let ss = 0;
  for (const v of x) ss += (v - mean) * (v - mean);
  return Math.sqrt(ss / (x.length - 1));
}

/** GRPO advantages of TRL's _generate_and_score_completions: group-relative, optionally scaled by a std. */
export function computeAdvantages(input: AdvantagesInput): Advantages {
  const r = checkTensor('rewardsPerFunc', input.rewardsPerFunc, 2);
  const [B, K] = r.shape;
  const G = input.groupSize;
  if (!Number.isInteger(G) || G < 1 || B % G !== 0) {
    throw new RangeError(`computeAdvantages: 'groupSize' ${G} must be a whole number >= 1 that divides the ${B} completions`);
  }
  const weights = input.rewardWeights ? Array.from(input.rewardWeights) : new Array<number>(K).fill(1);
  if (weights.length !== K) throw new RangeError(`computeAdvantages: 'rewardWeights' has ${weights.length} values for ${K} reward functions`);
  const scale = input.scaleRewards ?? 'group';
  if (!['group', 'batch', 'none'].includes(scale)) throw new RangeError(`computeAdvantages: 'scaleRewards' must be group, batch or none`);
  const values = numbers(r.data);
  const rewards = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let k = 0; k < K; k++) { const v = values[b * K + k] * weights[k]; if (!Number.isNaN(v)) s += v; }  // torch.nansum
    rewards[b] = s;
  }
  const mean = new Float64Array(B), std = new Float64Array(B);
  const batchStd = unbiasedStd(rewards);
  for (let g = 0; g < B / G; g++) {
    const group = rewards.subarray(g * G, (g + 1) * G);
    let m = 0;
    for (const v of group) m += v;
    m /= G;
    const s = scale === 'batch' ? batchStd : unbiasedStd(group);
    mean.fill(m, g * G, (g + 1) * G);
    std.fill(s, g * G, (g + 1) * G);
  }
  const advantages = new Float64Array(B), isStdZero = new Uint8Array(B);
  for (let b = 0; b < B; b++) {
    advantages[b] = scale === 'none' ? rewards[b] - mean[b] : (rewards[b] - mean[b]) / (std[b] + 1e-4);
    isStdZero[b] = Math.abs(std[b]) <= 1e-8 ? 1 : 0;  // torch.isclose(std, 0)
  }
  return { rewards, meanGroupedRewards: mean, stdRewards: std, advantages, isStdZero };
}

export interface GrpoLossArgs {
  /** Current-policy logits [B, T, V] at the positions predicting each completion token, before /τ. */
  logits: TensorData;
  /** Completion token ids [B, T] (padding holds any valid id). */
  completionIds: TensorData;
  /** 1 for real completion tokens, 0 for padding [B, T]. */
  completionMask: TensorData;
  /** Rewards [B, K] per reward function (with rewardWeights), or the weighted rewards [B] in `rewards`, or `advantages` [B] directly. */
  rewardsPerFunc?: TensorData;
  rewardWeights?: TensorData | ArrayLike<number>;
  rewards?: TensorData;
  advantages?: TensorData;
  /** Sampling policy (numIterations > 1): logits [B, T, V] or log-probs [B, T]. Absent: ratio 1. */
  oldLogits?: TensorData;
  oldLogps?: TensorData;
  /** Reference policy for the KL term (β ≠ 0): logits [B, T, V] or log-probs [B, T]. */
  refLogits?: TensorData;
  refLogps?: TensorData;
  /** TRL's default is dapo. */
  lossType?: GrpoLossType;
  beta?: number;
  epsilonLow?: number;
  /** Default: epsilonLow. */
  epsilonHigh?: number;
  delta?: number | null;
  temperature?: number;
  importanceSamplingLevel?: 'token' | 'sequence';
  scaleRewards?: ScaleRewards;
  /** G (completions per prompt); needed unless `advantages` is given. */
  numGenerations?: number;
  /** The configured limit (dr_grpo's normaliser); default T. */
  maxCompletionLength?: number;
  /** Real completion tokens of the whole generation batch over all processes; default Σ mask. */
  numItemsInBatch?: number;
  numProcesses?: number;
  /** The batch is split into this many micro-batches of consecutive rows; losses and gradients add up. */
  gradientAccumulationSteps?: number;
  sapoTemperaturePos?: number;
  sapoTemperatureNeg?: number;
}

export interface GrpoMetrics {
  /** Masked mean KL (only when β ≠ 0). */
  meanKl?: number;
  meanEntropy: number;
  /** grpo, bnpo, dr_grpo, dapo. */
  clipRatioLow?: number;
  clipRatioHigh?: number;
  clipRatioRegion?: number;
  /** cispo. */
  cispoClipRatio?: number;
}

export interface GrpoLossResult {
  /** The loss (summed over micro-batches with gradient accumulation). */
  loss: number;
  /** ∂loss/∂logits [B, T, V]. */
  gradLogits: { data: Float32Array; shape: number[] };
  advantages: Float64Array;
  /** TRL's logged metrics (with several micro-batches: the mean of their values, as TRL logs them). */
  metrics: GrpoMetrics;
  microBatchLosses: number[];
  rewards?: Float64Array;
  meanGroupedRewards?: Float64Array;
  stdRewards?: Float64Array;
  isStdZero?: Uint8Array;
  /** Per-token tensors [B, T] (row-major). */
  perToken: {
    logps: Float32Array; oldLogps?: Float32Array; refLogps?: Float32Array; entropies: Float32Array;
    coef1: Float32Array; coef2: Float32Array; kl: Float32Array; loss: Float32Array;
  };
}

/** Log-probs [B·T] of the completion ids under logits [B, T, V] / τ (native, one row per token). */
function logpsOf(name: string, logits: TensorData, ids: Tensor<'int32'>, B: number, T: number, temperature: number) {
  checkTensor(name, logits, 3);
  if (logits.shape[0] !== B || logits.shape[1] !== T) {
    throw new RangeError(`grpoLoss: '${name}' is [${logits.shape.join(', ')}] but completionIds is [${B}, ${T}]`);
  }
  using x = Tensor.from<'float32'>(Float32Array.from(logits.data as ArrayLike<number>, Number), [B * T, logits.shape[2]]);
  using out = tokenLogprobs(x, null, ids, { temperature });
  return out.logp.toArray();
}

function logpsGiven(name: string, t: TensorData, B: number, T: number): Float32Array {
  checkTensor(name, t, 2);
  if (t.shape[0] !== B || t.shape[1] !== T) throw new RangeError(`grpoLoss: '${name}' must be [${B}, ${T}], got [${t.shape.join(', ')}]`);
  return Float32Array.from(t.data as ArrayLike<number>, Number);
}

function advantagesFor(args: GrpoLossArgs, B: number): Advantages | { advantages: Float64Array } {
  if (args.advantages) return { advantages: numbers(checkTensor('advantages', args.advantages, 1).data) };
  const G = args.numGenerations;
  if (G === undefined) throw new TypeError(`grpoLoss: 'numGenerations' is needed to compute advantages (or give 'advantages')`);
  const weights = args.rewardWeights && 'shape' in args.rewardWeights ? numbers(args.rewardWeights.data) : args.rewardWeights;
  if (args.rewardsPerFunc) {
    return computeAdvantages({ rewardsPerFunc: args.rewardsPerFunc, rewardWeights: weights, groupSize: G, scaleRewards: args.scaleRewards });
  }
  if (args.rewards) {
    const r = checkTensor('rewards', args.rewards, 1);
    return computeAdvantages({ rewardsPerFunc: { data: r.data, shape: [r.shape[0], 1] }, groupSize: G, scaleRewards: args.scaleRewards });
  }
  throw new TypeError(`grpoLoss: give 'rewardsPerFunc' (with 'rewardWeights'), 'rewards' or 'advantages' (${B} completions)`);
}

/**
 * The GRPO loss of TRL's GRPOTrainer and its gradient with respect to the logits, from plain
 * arrays (float32 arithmetic in the native kernels).
 */
export function grpoLoss(args: GrpoLossArgs): GrpoLossResult {
  const idsT = checkTensor('completionIds', args.completionIds, 2);
  const [B, T] = idsT.shape;
  const maskT = checkTensor('completionMask', args.completionMask, 2);
  if (maskT.shape[0] !== B || maskT.shape[1] !== T) throw new RangeError(`grpoLoss: 'completionMask' must be [${B}, ${T}]`);
  checkTensor('logits', args.logits, 3);
  const V = args.logits.shape[2];
  const temperature = args.temperature ?? 1;
  const lossType = args.lossType ?? 'dapo';
  const beta = args.beta ?? 0;
  const ga = args.gradientAccumulationSteps ?? 1;
  if (!Number.isInteger(ga) || ga < 1 || B % ga !== 0) {
    throw new RangeError(`grpoLoss: 'gradientAccumulationSteps' ${ga} must be a whole number >= 1 that divides the ${B} completions`);
  }
  const ids = Int32Array.from(idsT.data as ArrayLike<number>, Number);
  const mask = Float32Array.from(maskT.data as ArrayLike<number>, Number);
  using idsTensor = Tensor.from<'int32'>(ids, [B * T]);

  using logits = Tensor.from<'float32'>(Float32Array.from(args.logits.data as ArrayLike<number>, Number), [B * T, V]);
  using cur = tokenLogprobs(logits, null, idsTensor, { temperature, entropy: true });
  const logps = cur.logp.toArray(), entropies = cur.entropy!.toArray();
  const oldLogps = args.oldLogps ? logpsGiven('oldLogps', args.oldLogps, B, T)
    : args.oldLogits ? logpsOf('oldLogits', args.oldLogits, idsTensor, B, T, temperature) : undefined;
  const refLogps = args.refLogps ? logpsGiven('refLogps', args.refLogps, B, T)
    : args.refLogits ? logpsOf('refLogits', args.refLogits, idsTensor, B, T, temperature) : undefined;
  if (beta !== 0 && !refLogps) throw new TypeError(`grpoLoss: 'beta' is ${beta}, so 'refLogits' or 'refLogps' is needed`);

  const adv = advantagesFor(args, B);
  if (adv.advantages.length !== B) throw new RangeError(`grpoLoss: ${adv.advantages.length} advantages for ${B} completions`);
  const numItems = args.numItemsInBatch ?? mask.reduce((a, b) => a + b, 0);

  // Micro-batch k: rows [k·B/ga, (k+1)·B/ga).
  const rowsPer = B / ga;
  const dlogp = new Float32Array(B * T);
  const perToken = { coef1: new Float32Array(B * T), coef2: new Float32Array(B * T), kl: new Float32Array(B * T), loss: new Float32Array(B * T) };
  const microBatchLosses: number[] = [];
  const metricSums = { kl: 0, entropy: 0, low: 0, high: 0, region: 0, cispo: 0 };
  const advF32 = Float32Array.from(adv.advantages);
  const slice = (a: Float32Array | undefined, k: number, width: number) =>
    a ? Tensor.from<'float32'>(a.subarray(k * rowsPer * width, (k + 1) * rowsPer * width), width === 1 ? [rowsPer] : [rowsPer, width], { copy: false }) : null;
  for (let k = 0; k < ga; k++) {
    const inputs = {
      logp: slice(logps, k, T)!, oldLogp: slice(oldLogps, k, T), refLogp: slice(refLogps, k, T),
      advantages: slice(advF32, k, 1)!, mask: slice(mask, k, T)!, entropy: slice(entropies, k, T),
    };
    let out: GrpoTokenLoss | undefined;
    try {
      out = grpoTokenLoss(inputs, {
        lossType, importanceSamplingLevel: args.importanceSamplingLevel ?? 'token', beta,
        epsilonLow: args.epsilonLow ?? 0.2, epsilonHigh: args.epsilonHigh ?? args.epsilonLow ?? 0.2, delta: args.delta ?? null,
        sapoTemperaturePos: args.sapoTemperaturePos ?? 1, sapoTemperatureNeg: args.sapoTemperatureNeg ?? 1.05,
        maxCompletionLength: args.maxCompletionLength ?? T, numItems: numItems / (args.numProcesses ?? 1),
        gradientAccumulationSteps: ga,
      });
      const at = k * rowsPer * T;
      dlogp.set(out.dlogp.toArray(), at);
      perToken.coef1.set(out.coef1.toArray(), at);
      perToken.coef2.set(out.coef2.toArray(), at);
      perToken.kl.set(out.kl.toArray(), at);
      perToken.loss.set(out.perTokenLoss.toArray(), at);
      const s = out.stats;
      microBatchLosses.push(s.loss);
      // TRL's per-micro-batch means (token count clamped to 1), averaged over micro-batches below.
      const tokens = Math.max(s.tokens, 1), clipN = Math.max(s.clipCount, 1);
      metricSums.kl += s.klSum / tokens;
      metricSums.entropy += s.entropySum / tokens;
      metricSums.low += s.lowClipped / clipN;
      metricSums.high += s.highClipped / clipN;
      metricSums.region += s.regionClipped / clipN;
      metricSums.cispo += s.cispoClipped / clipN;
    } finally {
      out?.[Symbol.dispose]();
      for (const t of Object.values(inputs)) t?.dispose();
    }
  }

  using dlogpTensor = Tensor.from<'float32'>(dlogp, [B * T], { copy: false });
  using grad = tokenLogprobsBackward(logits, null, idsTensor, cur.lse, dlogpTensor, { temperature });
  const metrics: GrpoMetrics = { meanEntropy: metricSums.entropy / ga };
  if (beta !== 0) metrics.meanKl = metricSums.kl / ga;
  if (lossType === 'cispo') metrics.cispoClipRatio = metricSums.cispo / ga;
  else if (lossType !== 'sapo') {
    metrics.clipRatioLow = metricSums.low / ga;
    metrics.clipRatioHigh = metricSums.high / ga;
    metrics.clipRatioRegion = metricSums.region / ga;
  }
  const scored = 'rewards' in adv ? adv : undefined;
  return {
    loss: microBatchLosses.reduce((a, b) => a + b, 0),
    gradLogits: { data: grad.toArray(), shape: [B, T, V] },
    advantages: adv.advantages,
    metrics,
    microBatchLosses,
    rewards: scored?.rewards, meanGroupedRewards: scored?.meanGroupedRewards, stdRewards: scored?.stdRewards, isStdZero: scored?.isStdZero,
    perToken: { logps, oldLogps, refLogps, entropies, ...perToken },
  };
}
