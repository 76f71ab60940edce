// Typed wrappers over the native foundation ops. Each allocates its output on the inputs'
// device unless `out` is given, and leaves argument checking to the addon (which names the
// offending tensor). Each op's backward sits beside its forward; while a gradient tape records
// (lib/tape.ts), a forward whose inputs need a gradient records the backward to run.
import { DType, dtypeCode } from '../dtype.js';
import { native } from '../native.js';
import { recordingTape, refuseInPlace, setAccumulator } from '../tape.js';
import { Shape, Tensor, disposeAll, numel } from '../tensor.js';

type F32 = Tensor<'float32'>;
type Weight = Tensor<'float32' | 'bfloat16' | 'float16'>;

const ops = native;

function outFor(like: Tensor, shape: Shape, out?: F32): F32 {
  return out ?? Tensor.empty(shape, { dtype: 'float32', device: like.device });
}

/** Runs `fn(out)`, disposing `out` if the native call throws, so errors leak nothing. */
function fill<T extends Tensor>(out: T, owned: boolean, fn: (o: T) => void): T {
  try {
    fn(out);
    return out;
  } catch (e) {
    if (owned) out.dispose();
    throw e;
  }
}

export interface MatmulOptions {
  /** `a` is stored [..., K, M] instead of [..., M, K]: dW = dYᵀ·X is `matmul(dY, X, { transA: true })`. */
  transA?: boolean;
  /** `b` is stored [N, K] (a Linear weight [out, in]) instead of [K, N]. */
  transB?: boolean;
  bias?: F32;
  alpha?: number;
  /** Accumulate: c = alpha·a·b + beta·c (needs `out`). */
  beta?: number;
  out?: F32;
}

/** op(a) [..., M, K] · op(b) → [..., M, N], float32 accumulation; b may be bf16/f16. */
export function matmul(a: F32, b: Weight, opts: MatmulOptions = {}): F32 {
  const transA = opts.transA ?? false, transB = opts.transB ?? false;
  if (a.shape.length < 2) throw new RangeError(`matmul: 'a' must have at least 2 dimensions, got [${a.shape.join(', ')}]`);
  if (b.shape.length < 2) throw new RangeError(`matmul: 'b' must have at least 2 dimensions, got [${b.shape.join(', ')}]`);
  const m = transA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2];
  const n = transB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
  const shape = [...a.shape.slice(0, -2), m, n];
  refuseInPlace('matmul', 'out', opts.out);
  const c = fill(outFor(a, shape, opts.out), !opts.out, (c) =>
    ops().gemm(a.handle, b.handle, c.handle, {
      transA, transB, bias: opts.bias?.handle, alpha: opts.alpha ?? 1, beta: opts.beta ?? 0,
    }),
  );
  recordingTape()?.record('matmul', [a, b, opts.bias], [c], (save) => {
    if (transA || b.shape.length !== 2) throw new Error('matmul: gradients are implemented for a [..., M, K] and a 2-D b (the Linear case)');
    const as = save(a), bs = save(b), alpha = opts.alpha ?? 1, hasBias = !!opts.bias;
    return ([gy]) => {
      // As 2-D products over all leading rows: da = gy·op(b)ᵀ, db = gyᵀ·a or aᵀ·gy, dbias = Σ rows gy.
      const da = matmul(gy!, bs, { transB: !transB, alpha });
      using a2 = as.reshape([as.size / as.shape[as.shape.length - 1], as.shape[as.shape.length - 1]]);
      using g2 = gy!.reshape([gy!.size / n, n]);
      const db = transB ? matmul(g2, a2, { transA: true, alpha }) : matmul(a2, g2, { transA: true, alpha });
      const dbias = hasBias ? sumRows(g2, Tensor.empty([n], { device: gy!.device })) : undefined;
      return [da, db, dbias];
    };
  });
  return c;
}

/** x · Wᵀ + bias for a Hugging Face Linear weight W [out, in]. */
export function linear(x: F32, weight: Weight, bias?: F32, out?: F32): F32 {
  return matmul(x, weight, { transB: true, bias, out });
}

/** linear() as a JS array [M, out] (e.g. logits handed to the caller); on the CPU the GEMM writes straight into it. */
export function linearToArray(x: F32, weight: Weight, bias?: F32): Float32Array {
  if (x.device !== 'cpu') {
    using y = linear(x, weight, bias);
    return y.toArray();
  }
  const shape = [...x.shape.slice(0, -1), weight.shape[0]];
  const out = new Float32Array(numel(shape));
  using dst = Tensor.from<'float32'>(out, shape, { copy: false });
  linear(x, weight, bias, dst);
  return out;
}

/**
 * x · Wᵢᵀ + biasᵢ for several Linear weights of one input x [M, K] (q/k/v, gate/up), in one
 * native call: at decode sizes the products run as one sweep with one thread dispatch.
 * `out`: tensors [M, Nᵢ] to write instead of new ones.
 */
export function linears(x: F32, weights: readonly Weight[], biases: readonly (F32 | undefined)[] = [], out?: F32[]): F32[] & Disposable {
  refuseInPlace('linears', 'out', out);
  const outs = out ?? weights.map((w) => Tensor.empty([x.shape[0], w.shape[0]], { dtype: 'float32', device: x.device }));
  try {
    ops().gemmGroup(x.handle, weights.map((w) => w.handle), outs.map((o) => o.handle), weights.map((_, i) => biases[i]?.handle), { transB: true });
    recordingTape()?.record('linears', [x, ...weights, ...weights.map((_, i) => biases[i])], outs, (save) => {
      const xs = save(x), ws = weights.map((w) => save(w)), hasBias = weights.map((_, i) => !!biases[i]);
      return (gys) => {
        // dx = Σ gyᵢ·Wᵢ (the first product writes it, the GEMM adds the others), dWᵢ = gyᵢᵀ·x,
        // dbᵢ = Σ rows gyᵢ.
        let dx: F32 | undefined;
        const dws: (F32 | undefined)[] = [], dbs: (F32 | undefined)[] = [];
        gys.forEach((g, i) => {
          if (!g) { dws.push(undefined); dbs.push(undefined); return; }
          if (dx) matmul(g, ws[i], { beta: 1, out: dx });
          else dx = matmul(g, ws[i]);
          dws.push(matmul(g, xs, { transA: true }));
          dbs.push(hasBias[i] ? sumRows(g, Tensor.empty([g.shape[1]], { device: g.device })) : undefined);
        });
        return [dx ?? Tensor.zeros(x.shape, { device: x.device }), ...dws, ...dbs];
      };
    });
    // `using outs = linears(...)` disposes them all.
    return Object.assign(outs, { [Symbol.dispose]: () => disposeAll(outs) });
  } catch (e) {
    if (!out) for (const o of outs) o.dispose();
    throw e;
  }
}

const binaryCode = { add: 0, mul: 1, sub: 2, div: 3 } as const;
function binary(op: keyof typeof binaryCode, a: F32, b: F32, out?: F32): F32 {
  refuseInPlace(op, 'out', out);
  const y = fill(outFor(a, a.shape, out), !out, (o) => ops().binary(binaryCode[op], a.handle, b.handle, o.handle));
  recordingTape()?.record(op, [a, b], [y], (save) => {
    if (op === 'div') throw new Error('div: no gradient implemented');
    const as = op === 'mul' ? save(a) : undefined, bs = op === 'mul' ? save(b) : undefined;
    // b may repeat over a (broadcast): its gradient sums over the repeats.
    const reduce = (g: F32): F32 => {
      if (b.size === a.size) return g.reshape(b.shape);
      using rows = g.reshape([a.size / b.size, b.size]);
      using sum = sumRows(rows, Tensor.empty([b.size], { device: g.device }));
      return sum.reshape(b.shape);
    };
    return ([gy]) => {
      const g = gy!;
      if (op === 'add') return [g, reduce(g)];
      if (op === 'sub') {
        using neg = scale(g, -1);
        return [g, reduce(neg)];
      }
      using gb = binary('mul', g, as!);
      const da = binary('mul', g, bs!);
      return [da, b.size === a.size ? gb.clone() : reduce(gb)];
    };
  });
  return y;
}
/** a + b, where b may be smaller and repeat over a (e.g. one row added to every row). */
export const add = (a: F32, b: F32, out?: F32): F32 => binary('add', a, b, out);
export const mul = (a: F32, b: F32, out?: F32): F32 => binary('mul', a, b, out);
export const sub = (a: F32, b: F32, out?: F32): F32 => binary('sub', a, b, out);
export const div = (a: F32, b: F32, out?: F32): F32 => binary('div', a, b, out);

/** a · scale + shift */
export function scale(a: F32, factor: number, shift = 0, out?: F32): F32 {
  refuseInPlace('scale', 'out', out);
  const y = fill(outFor(a, a.shape, out), !out, (o) => ops().scale(a.handle, o.handle, factor, shift));
  recordingTape()?.record('scale', [a], [y], () => ([gy]) => [scale(gy!, factor)]);
  return y;
}

/** silu(gate) · up */
export function swiglu(gate: F32, up: F32, out?: F32): F32 {
  refuseInPlace('swiglu', 'out', out);
  const y = fill(outFor(gate, gate.shape, out), !out, (o) => ops().swiglu(gate.handle, up.handle, o.handle));
  recordingTape()?.record('swiglu', [gate, up], [y], (save) => {
    const g = save(gate), u = save(up);
    return ([gy]) => {
      const { dgate, dup } = swigluBackward(gy!, g, u);
      return [dgate, dup];
    };
  });
  return y;
}

/** Gradients of swiglu: with s = sigmoid(gate), dgate = dy·up·s·(1 + gate·(1 − s)), dup = dy·gate·s. */
export function swigluBackward(dy: F32, gate: F32, up: F32): { dgate: F32; dup: F32 } {
  const dgate = outFor(gate, gate.shape);
  const dup = outFor(up, up.shape);
  try {
    ops().swigluBackward(dy.handle, gate.handle, up.handle, dgate.handle, dup.handle);
    return { dgate, dup };
  } catch (e) {
    dgate.dispose();
    dup.dispose();
    throw e;
  }
}

/** softmax over the last dimension of x·scale. A row of -Infinity gives zeros. */
export function softmax(x: F32, opts: { scale?: number; out?: F32 } = {}): F32 {
  refuseInPlace('softmax', 'out', opts.out);
  const y = fill(outFor(x, x.shape, opts.out), !opts.out, (o) => ops().softmax(x.handle, o.handle, opts.scale ?? 1));
  recordingTape()?.record('softmax', [x], [y], (save) => {
    const ys = save(y);
    return ([gy]) => [softmaxBackward(ys, gy!, { scale: opts.scale })];
  });
  return y;
}

/** Gradient of softmax for y = softmax(x·scale): dx = scale·y·(dy − Σ dy·y) per row. */
export function softmaxBackward(y: F32, dy: F32, opts: { scale?: number } = {}): F32 {
  return fill(outFor(y, y.shape), true, (o) => ops().softmaxBackward(y.handle, dy.handle, o.handle, opts.scale ?? 1));
}

/**
 * Column sums of x [..., cols] into out [cols] (a bias gradient); `accumulate` adds them to
 * out instead. Each column is summed over rows in order (deterministic). Returns out.
 */
export function sumRows(x: F32, out: F32, opts: { accumulate?: boolean } = {}): F32 {
  ops().sumRows(x.handle, out.handle, opts.accumulate ?? false);
  return out;
}

/**
 * RMSNorm over the last dimension. With `invRms` ([rows] float32) the per-row
 * 1/sqrt(mean(x²)+eps) is kept for the backward pass.
 */
export function rmsnorm(x: F32, weight: Weight | null, eps: number, opts: { out?: F32; invRms?: F32 } = {}): F32 {
  refuseInPlace('rmsnorm', 'out', opts.out);
  const tape = recordingTape();
  const taped = tape && (tape.needsGrad(x) || tape.needsGrad(weight));
  // Backward needs each row's 1/rms: kept when a tape records (a [rows] vector).
  const invRms = opts.invRms ?? (taped ? Tensor.empty([x.size / (x.shape[x.shape.length - 1] || 1)], { device: x.device }) : undefined);
  try {
    const y = fill(outFor(x, x.shape, opts.out), !opts.out, (o) =>
      ops().rmsnorm(x.handle, weight?.handle ?? null, o.handle, eps, invRms?.handle ?? null),
    );
    tape?.record('rmsnorm', [x, weight], [y], (save) => {
      const xs = save(x), ws = save(weight), inv = save(invRms!);
      const wantW = weight !== null && tape.needsGrad(weight);
      return ([gy]) => {
        const dw = wantW ? Tensor.zeros([weight!.size], { device: x.device }) : undefined;
        const dx = rmsnormBackward(gy!, xs, ws, inv, { dweight: dw });
        return [dx, dw?.reshape(weight!.shape)];
      };
    });
    return y;
  } finally {
    if (invRms !== opts.invRms) invRms?.dispose();
  }
}

/**
 * Gradient of rmsnorm(x, weight, eps, { invRms }) for upstream dy: returns dx (new, like x).
 * With `dweight` ([dim] float32) the weight gradient is added into it (deterministic).
 */
export function rmsnormBackward(dy: F32, x: F32, weight: Weight | null, invRms: F32, opts: { dweight?: F32 } = {}): F32 {
  return fill(outFor(x, x.shape), true, (dx) =>
    ops().rmsnormBackward(dy.handle, x.handle, weight?.handle ?? null, invRms.handle, dx.handle, opts.dweight?.handle ?? null),
  );
}

/** Rows of `table` [rows, dim] (f32/bf16/f16) picked by int32 ids, as float32 [n, dim]. */
export function embedding(ids: Tensor<'int32'>, table: Weight, out?: F32): F32 {
  if (table.shape.length !== 2) throw new RangeError(`embedding: 'table' must be [rows, dim], got [${table.shape.join(', ')}]`);
  refuseInPlace('embedding', 'out', out);
  const y = fill(outFor(table, [ids.size, table.shape[1]], out), !out, (o) =>
    ops().embedding(ids.handle, table.handle, o.handle),
  );
  recordingTape()?.record('embedding', [table], [y], (save) => {
    const idsKept = save(ids);
    return ([gy]) => {
      const dtable = Tensor.zeros(table.shape, { device: table.device });
      embeddingBackward(idsKept, gy!, dtable);
      return [dtable];
    };
  });
  return y;
}

/**
 * Gradient of embedding (and of gatherRows): dtable[ids[i], :] += dy[i, :]; repeated ids add
 * up, in order (deterministic). dtable: float32 [rows, dim], accumulated in place.
 */
export function embeddingBackward(ids: Tensor<'int32'>, dy: F32, dtable: F32): void {
  ops().embeddingBackward(ids.handle, dy.handle, dtable.handle);
}

/** Converts between float32, bfloat16 and float16 (and float64 to float32). */
export function cast<D extends DType>(x: Tensor, dtype: D): Tensor<D> {
  const out = Tensor.empty(x.shape, { dtype, device: x.device });
  return fill(out, true, (o) => ops().convert(x.handle, o.handle));
}

export { dtypeCode };

// The tape sums the gradients of a tensor used several times with this op.
setAccumulator((acc, g) => void ops().binary(binaryCode.add, acc.handle, g.handle, acc.handle));
