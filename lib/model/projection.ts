// Every projection of both towers goes through here, so a LoRA adapter (lib/train/lora.ts) is
// added in one place: y = x·Wᵀ + b + scale·dropout(x)·Aᵀ·Bᵀ. Adapters exist only while training;
// inference runs on merged weights (W + scale·B·A), so the grouped, buffer-reusing path below
// stays one native call and refuses an adapter rather than silently skipping it.
import { add, linear, linears, matmul } from '../ops/basic.js';
import { recordingTape } from '../tape.js';
import { disposeAll } from '../tensor.js';
import type { F32, Linear, LoraAdapter } from './weights.js';

/** y + scale · dropout(x)·Aᵀ·Bᵀ as a new tensor (y is left as it is). */
function withAdapter(x: F32, y: F32, l: LoraAdapter): F32 {
  using dropped = l.dropout && recordingTape() ? l.dropout(x) : undefined;
  using xa = linear(dropped ?? x, l.a);
  using delta = matmul(xa, l.b, { transB: true, alpha: l.scale });
  return add(y, delta);
}

/** Throws when `out` (the inference path writes into reused buffers) meets an attached adapter. */
export function refuseOut(ws: readonly Linear[], out: unknown): void {
  if (out && ws.some((w) => w.lora)) {
    throw new Error('a LoRA adapter is attached to a projection on the inference path: merge it first (lora.mergeIntoModel(), or loadModel with { adapter })');
  }
}

/** x·Wᵀ + b (+ the adapter, if any); into `out` when given (inference, no adapter). */
export function projection(x: F32, w: Linear, out?: F32): F32 {
  refuseOut([w], out);
  const y = linear(x, w.weight, w.bias, out);
  if (!w.lora) return y;
  try {
    return withAdapter(x, y, w.lora);
  } finally {
    y.dispose();
  }
}

/** Several projections of one input (q/k/v, gate/up) in one grouped native call, plus any adapters. */
export function projections(x: F32, ws: readonly Linear[], out?: F32[]): F32[] & Disposable {
  refuseOut(ws, out);
  const ys = linears(x, ws.map((w) => w.weight), ws.map((w) => w.bias), out);
  if (!ws.some((w) => w.lora)) return ys;
  // The adapter's sum replaces the plain output; outputs without an adapter are kept as they are.
  const result: F32[] = [...ys];
  try {
    ws.forEach((w, i) => {
      if (!w.lora) return;
      const sum = withAdapter(x, ys[i], w.lora);
      ys[i].dispose();
      result[i] = sum;
    });
  } catch (e) {
    disposeAll(result);
    throw e;
  }
  return Object.assign(result, { [Symbol.dispose]: () => disposeAll(result) });
}
