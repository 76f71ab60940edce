// Learning-rate schedules, exactly as Hugging Face transformers defines them
// (transformers/optimization.py): the multiplier of the peak rate as a function of the number of
// optimizer steps already taken (LambdaLR's `last_epoch`; 0 for the first step, since the
// Trainer calls scheduler.step() after optimizer.step()).
//   constant: get_constant_schedule_with_warmup (no warm-up: get_constant_schedule)
//     t < warmup ? t / max(1, warmup) : 1
//   cosine: get_cosine_schedule_with_warmup (numCycles 0.5: half a cosine from peak to 0)
//     t < warmup ? t / max(1, warmup)
//                : max(0, ½(1 + cos(π · numCycles · 2 · (t − warmup) / max(1, total − warmup))))

export type ScheduleKind = 'constant' | 'cosine';

export interface ScheduleOptions {
  kind: ScheduleKind;
  /** Peak learning rate. */
  lr: number;
  /** Steps of linear warm-up from 0 (default 0). */
  warmupSteps?: number;
  /** Total optimizer steps (cosine only). */
  totalSteps?: number;
  /** Cosine waves over the decay (default 0.5: peak to zero once). */
  numCycles?: number;
}

/** The learning rate for the optimizer step that follows `completedSteps` steps. */
export type Schedule = (completedSteps: number) => number;

function check(ok: boolean, key: string, rule: string, value: unknown): void {
  if (!ok) throw new RangeError(`learning-rate schedule: '${key}' must be ${rule}, got ${JSON.stringify(value)}`);
}
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** The multiplier function of HF transformers' schedule `kind`, checked up front. */
export function learningRateSchedule(opts: ScheduleOptions): Schedule {
  const { kind, lr } = opts;
  check(kind === 'constant' || kind === 'cosine', 'kind', "'constant' or 'cosine'", kind);
  check(typeof lr === 'number' && Number.isFinite(lr) && lr >= 0, 'lr', 'a finite number >= 0', lr);
  const warmup = opts.warmupSteps ?? 0;
  check(isCount(warmup), 'warmupSteps', 'an integer >= 0', warmup);
  const warm = (t: number) => t / Math.max(1, warmup);
  if (kind === 'constant') {
    return (t) => {
      checkStep(t);
      return lr * (t < warmup ? warm(t) : 1);
    };
  }
  check(isCount(opts.totalSteps), 'totalSteps', 'an integer >= 0 (the cosine schedule needs the run length)', opts.totalSteps);
  const total = opts.totalSteps as number;
  const cycles = opts.numCycles ?? 0.5;
  check(typeof cycles === 'number' && Number.isFinite(cycles), 'numCycles', 'a finite number', cycles);
  return (t) => {
    checkStep(t);
    if (t < warmup) return lr * warm(t);
    const progress = (t - warmup) / Math.max(1, total - warmup);
    return lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
  };
}

function checkStep(t: number): void {
  if (!isCount(t)) throw new RangeError(`learning-rate schedule: the step must be an integer >= 0, got ${t}`);
}
