// Learning-rate schedules against Hugging Face transformers' own lambdas (the functions of
// transformers/optimization.py, run by /usr/bin/python3 through LambdaLR's base_lr · lambda),
// plus properties any reader can check by hand.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { learningRateSchedule } from '../dist/index.js';

// The two lambdas as transformers/optimization.py defines them (copied from its source).
const HF_SCHEDULES = `
import json, math, sys

def _get_constant_schedule_with_warmup_lr_lambda(current_step: int, *, num_warmup_steps: int):
    if current_step < num_warmup_steps:
        return float(current_step) / float(max(1.0, num_warmup_steps))
    return 1.0

def _get_cosine_schedule_with_warmup_lr_lambda(
    current_step: int, *, num_warmup_steps: int, num_training_steps: int, num_cycles: float
):
    if current_step < num_warmup_steps:
        return float(current_step) / float(max(1, num_warmup_steps))
    progress = float(current_step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))

out = []
for case in json.load(sys.stdin):
    if case['kind'] == 'constant':
        lam = lambda t: _get_constant_schedule_with_warmup_lr_lambda(t, num_warmup_steps=case['warmupSteps'])
    else:
        lam = lambda t: _get_cosine_schedule_with_warmup_lr_lambda(t, num_warmup_steps=case['warmupSteps'],
            num_training_steps=case['totalSteps'], num_cycles=case['numCycles'])
    out.append([case['lr'] * lam(t) for t in range(case['steps'])])
json.dump(out, sys.stdout)
`;

const CASES = [
  { kind: 'cosine', lr: 2e-5, warmupSteps: 10, totalSteps: 100, numCycles: 0.5, steps: 120 },
  { kind: 'cosine', lr: 1e-3, warmupSteps: 0, totalSteps: 37, numCycles: 0.5, steps: 40 },
  { kind: 'cosine', lr: 3e-4, warmupSteps: 7, totalSteps: 7, numCycles: 0.5, steps: 10 },
  { kind: 'cosine', lr: 1e-4, warmupSteps: 3, totalSteps: 50, numCycles: 1.5, steps: 55 },
  { kind: 'constant', lr: 5e-5, warmupSteps: 0, steps: 5 },
  { kind: 'constant', lr: 5e-5, warmupSteps: 13, steps: 20 },
];

test('schedules equal transformers get_cosine_schedule_with_warmup / get_constant_schedule_with_warmup (python3)', (t) => {
  const r = spawnSync('/usr/bin/python3', ['-c', HF_SCHEDULES], { input: JSON.stringify(CASES), encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    t.log(`skipped: /usr/bin/python3 could not run (${r.error?.message ?? r.stderr.trim()}); the properties test still runs`);
    t.pass();
    return;
  }
  const want = JSON.parse(r.stdout);
  CASES.forEach((c, i) => {
    const lrAt = learningRateSchedule(c);
    for (let step = 0; step < c.steps; step++) {
      const got = lrAt(step), exp = want[i][step];
      // Python's math.cos and V8's Math.cos may differ in the last bit.
      if (!(Math.abs(got - exp) <= 1e-15 * c.lr)) {
        t.fail(`${JSON.stringify(c)} at step ${step}: ${got}, transformers ${exp}`);
        return;
      }
    }
  });
  t.pass();
});

test('cosine with warm-up: linear from 0 to the peak, half the peak midway through the decay, 0 at the end', (t) => {
  const lrAt = learningRateSchedule({ kind: 'cosine', lr: 1e-3, warmupSteps: 4, totalSteps: 24 });
  t.deepEqual([0, 1, 2, 3, 4].map(lrAt), [0, 0.25e-3, 0.5e-3, 0.75e-3, 1e-3]);
  t.true(Math.abs(lrAt(14) - 0.5e-3) < 1e-18);
  t.true(Math.abs(lrAt(24)) < 1e-18);
  const constant = learningRateSchedule({ kind: 'constant', lr: 2e-5 });
  t.deepEqual([0, 1, 1000].map(constant), [2e-5, 2e-5, 2e-5]);
});

test('schedule options are checked up front, naming the key', (t) => {
  t.throws(() => learningRateSchedule({ kind: 'cosine', lr: 1e-3 }), { message: /'totalSteps' must be an integer >= 0/ });
  t.throws(() => learningRateSchedule({ kind: 'linear', lr: 1e-3 }), { message: /'kind' must be 'constant' or 'cosine', got "linear"/ });
  t.throws(() => learningRateSchedule({ kind: 'constant', lr: -1 }), { message: /'lr' must be a finite number >= 0/ });
  t.throws(() => learningRateSchedule({ kind: 'constant', lr: 1, warmupSteps: 2.5 }), { message: /'warmupSteps'/ });
  t.throws(() => learningRateSchedule({ kind: 'constant', lr: 1 })(-1), { message: /step must be an integer >= 0/ });
});
