// Weighted reward functions for GRPO: the package's rewards (lib/train/rewards.ts) and the
// user's own, sync or async, scored over a batch of completions. The weighted sum per completion
// is the reward r[b] = Σ_k w_k · reward_k(b) that GRPO's advantages are computed from.
import { accuracy, format } from './rewards.js';

/** What a reward function sees for one completion. */
export interface RewardInput<R = unknown> {
  /** The prompt the completion answers (text as sent to the model, or the question). */
  prompt: string;
  /** The model's generated text. */
  completion: string;
  /** The dataset record the prompt came from (e.g. an McqRecord with its `answer`). */
  record: R;
}

/** A reward for one completion: a finite number, or a promise of one. */
export type RewardFunction<R = unknown> = (input: RewardInput<R>) => number | Promise<number>;

export interface WeightedRewardFunction<R = unknown> {
  /** Names the function in metrics and in error messages; unique within one call. */
  name: string;
  fn: RewardFunction<R>;
  /** Multiplies this function's reward in the total; any finite number (0 logs without training). */
  weight: number;
}

export interface RewardScores {
  /** perFunction[k][b]: function k's reward for item b, k in the order given. */
  perFunction: number[][];
  /** total[b] = Σ_k weight_k · perFunction[k][b]. */
  total: number[];
}

/**
 * Scores every item with every function. Async functions run concurrently over the items;
 * the call fails with an error naming the function and the item index when a function throws,
 * rejects or returns something other than a finite number.
 */
export async function scoreRewards<R>(functions: readonly WeightedRewardFunction<R>[], items: readonly RewardInput<R>[]): Promise<RewardScores> {
  validateFunctions(functions);
  if (!Array.isArray(items)) throw new TypeError('scoreRewards: items must be an array of { prompt, completion, record }');
  const perFunction = await Promise.all(functions.map(({ name, fn }) => Promise.all(items.map(async (item, b) => {
    let value: unknown;
    try {
      value = await fn(item);
    } catch (e) {
      throw new Error(`reward function '${name}' failed on item ${b}: ${(e as Error)?.message ?? e}`, { cause: e });
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new Error(`reward function '${name}' returned ${describe(value)} for item ${b}; a reward must be a finite number`);
    }
    return value;
  }))));
  const total = items.map((_, b) => functions.reduce((sum, f, k) => sum + f.weight * perFunction[k][b], 0));
  return { perFunction, total };
}

function validateFunctions(functions: readonly WeightedRewardFunction<any>[]): void {
  if (!Array.isArray(functions) || functions.length === 0) throw new TypeError('scoreRewards: functions must be a non-empty array of { name, fn, weight }');
  const seen = new Set<string>();
  functions.forEach((f, k) => {
    if (!f || typeof f.name !== 'string' || !f.name) throw new TypeError(`scoreRewards: functions[${k}].name must be a non-empty string`);
    if (seen.has(f.name)) throw new TypeError(`scoreRewards: reward function name '${f.name}' is used twice`);
    seen.add(f.name);
    if (typeof f.fn !== 'function') throw new TypeError(`scoreRewards: reward function '${f.name}': fn must be a function`);
    if (typeof f.weight !== 'number' || !Number.isFinite(f.weight)) throw new TypeError(`scoreRewards: reward function '${f.name}': weight must be a finite number, got ${describe(f.weight)}`);
  });
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return value === null ? 'null' : typeof value;
}

/**
 * The package's two rewards as reward functions, weight 1 each. `accuracy` reads the ground
 * truth letter from `record.answer` (the field `gmai eval` datasets carry).
 */
export function defaultRewardFunctions(): WeightedRewardFunction<{ answer: string }>[] {
  return [
    { name: 'accuracy', fn: ({ completion, record }) => accuracy(completion, record.answer), weight: 1 },
    { name: 'format', fn: ({ completion }) => format(completion), weight: 1 },
  ];
}
