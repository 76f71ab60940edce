// A small define-by-run autograd. While a Tape is active (tape.run(fn)), every op of lib/ops
// whose inputs need a gradient records a node: its inputs, its outputs, the tensors its backward
// will read, and the backward itself (which calls the op's native backward kernel). Backward walks
// the nodes in reverse order, sums the gradients flowing into each tensor, hands gradients of
// leaves (parameters) to the caller, and frees every saved activation and intermediate gradient
// as soon as the node that needed it is done.
//
// Ownership: forward code disposes its temporaries as usual; the tape keeps its own references
// (views of the same memory) to what backward needs, so disposing a forward tensor never breaks
// backward. Ops refuse `out` / in-place writes while a tape records, because an overwritten
// input would silently corrupt a saved activation.
import { Tensor, disposeAll } from './tensor.js';

type F32 = Tensor<'float32'>;

/** Gradients of a node's outputs (undefined: none flowed there) → gradients of its inputs. */
export type Backward = (gradOutputs: (F32 | undefined)[]) => (F32 | undefined)[];

interface Node {
  op: string;
  inputs: (Tensor | null | undefined)[];
  outputs: Tensor[];
  backward: Backward;
  saved: Tensor[];
}

let active: Tape | undefined;
let paused = 0;

/** The tape recording now, if any (not inside noGrad). */
export function recordingTape(): Tape | undefined {
  return paused === 0 ? active : undefined;
}

/** Runs `fn` with no recording (inference, reference models, optimiser updates). */
export function noGrad<T>(fn: () => T): T {
  paused++;
  try {
    return fn();
  } finally {
    paused--;
  }
}

/** Throws when a tape records and an op was asked to write into existing memory. */
export function refuseInPlace(op: string, what: string, given: unknown): void {
  if (given && recordingTape()) {
    throw new Error(`${op}: '${what}' (writing into an existing tensor) is not allowed while a gradient tape records; ` +
      'the training path must create new tensors');
  }
}

export class Tape implements Disposable {
  #nodes: Node[] = [];
  #needsGrad = new WeakSet<Tensor>();
  #leaves = new WeakSet<Tensor>();

  /** Marks parameters whose gradients backward() should return. */
  watch(...tensors: Tensor[]): this {
    for (const t of tensors) {
      this.#needsGrad.add(t);
      this.#leaves.add(t);
    }
    return this;
  }

  needsGrad(t: Tensor | null | undefined): boolean {
    return !!t && this.#needsGrad.has(t);
  }

  /** Number of recorded nodes (tests, debugging). */
  get length(): number {
    return this.#nodes.length;
  }

  /** Runs `fn` with this tape recording. Tapes do not nest. */
  run<T>(fn: () => T): T {
    if (active) throw new Error('a gradient tape is already recording');
    active = this;
    try {
      return fn();
    } finally {
      active = undefined;
    }
  }

  /**
   * A reference of the tape's own to `t` (a view of the same memory), freed after backward has
   * used it. Ops call this for every tensor their backward reads.
   */
  save<T extends Tensor | null | undefined>(t: T, saved: Tensor[]): T {
    if (!t) return t;
    const own = t.view(t.shape) as Tensor;
    saved.push(own);
    return own as T;
  }

  /**
   * Records an op if any input needs a gradient: `makeBackward(save)` is called only then, and
   * receives `save` to keep what its backward reads. Returns whether it recorded.
   */
  record(op: string, inputs: (Tensor | null | undefined)[], outputs: Tensor[], makeBackward: (save: <T extends Tensor | null | undefined>(t: T) => T) => Backward): boolean {
    if (!inputs.some((t) => this.needsGrad(t))) return false;
    const saved: Tensor[] = [];
    const backward = makeBackward((t) => this.save(t, saved));
    for (const o of outputs) this.#needsGrad.add(o);
    this.#nodes.push({ op, inputs, outputs, backward, saved });
    return true;
  }

  /**
   * Activation checkpointing: runs `fn(...inputs)` now without recording inside it (its
   * activations are not kept), and records one node whose backward re-runs `fn` on the saved
   * inputs under a fresh tape and backpropagates through that. `params`: the watched tensors
   * `fn` reads (their gradients flow out of this node). Every tensor `fn` needs that is not a
   * parameter must be passed in `inputs` (the caller may dispose it before backward runs).
   */
  checkpoint<T extends Tensor>(fn: (...inputs: Tensor[]) => T, inputs: Tensor[], params: Tensor[]): T {
    const y = noGrad(() => fn(...inputs));
    const watched = params.filter((p) => this.needsGrad(p));
    this.record('checkpoint', [...inputs, ...watched], [y], (save) => {
      const kept = inputs.map((t) => save(t));
      const wantInput = inputs.map((t) => this.needsGrad(t));
      return ([gy]) => {
        const sub = new Tape().watch(...kept.filter((_, i) => wantInput[i]), ...watched);
        const grads = new Map<Tensor, F32>();
        try {
          const yAgain = sub.run(() => fn(...kept));
          try {
            sub.backward(yAgain, gy!.clone(), (t, g) => void grads.set(t, g.clone()));
          } finally {
            yAgain.dispose();
            sub.dispose();
          }
          return [...kept.map((t) => grads.get(t)), ...watched.map((p) => grads.get(p))];
        } catch (e) {
          disposeAll([...grads.values()]);
          throw e;
        }
      };
    });
    return y;
  }

  /**
   * Backpropagates from `root` with the gradient `seed` (same shape; consumed). Calls
   * `onLeafGrad(param, grad)` for each watched tensor that receives a gradient (once per
   * tensor, with the sum over all its uses; the grad is disposed after the call returns).
   * The tape is empty afterwards and can record again.
   */
  backward(root: Tensor, seed: F32, onLeafGrad: (param: Tensor, grad: F32) => void): void {
    const grads = new Map<Tensor, F32>();
    const leafGrads = new Map<Tensor, F32>();
    grads.set(root, seed);
    const nodes = this.#nodes;
    this.#nodes = [];
    try {
      for (let n = nodes.length - 1; n >= 0; n--) {
        const node = nodes[n];
        const gOut = node.outputs.map((o) => grads.get(o));
        for (const o of node.outputs) grads.delete(o);
        try {
          if (gOut.every((g) => g === undefined)) continue;
          const gIn = node.backward(gOut);
          const handedOut = new Set<F32>();
          node.inputs.forEach((input, i) => {
            let g = gIn[i];
            if (!g || !input || !this.#needsGrad.has(input)) return;
            // A backward may return one tensor for two inputs (or pass an output gradient
            // through): every stored gradient must own its memory, since sums add in place.
            if (handedOut.has(g) || gOut.includes(g)) g = g.clone();
            handedOut.add(g);
            accumulate(this.#leaves.has(input) ? leafGrads : grads, input, g, node.op);
          });
          for (const g of gIn) if (g && !handedOut.has(g) && !gOut.includes(g)) g.dispose();
        } finally {
          disposeAll(gOut.filter((g): g is F32 => !!g));
          disposeAll(node.saved);
        }
      }
      for (const [param, g] of leafGrads) {
        try {
          onLeafGrad(param, g);
        } finally {
          g.dispose();
        }
      }
      leafGrads.clear();
    } finally {
      for (const node of nodes) disposeAll(node.saved);
      for (const g of grads.values()) g.dispose();
      for (const g of leafGrads.values()) g.dispose();
    }
  }

  /** Frees everything recorded without running backward. */
  dispose(): void {
    for (const node of this.#nodes) disposeAll(node.saved);
    this.#nodes = [];
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** into[t] += g (g is consumed). */
function accumulate(into: Map<Tensor, F32>, t: Tensor, g: F32, op: string): void {
  if (g.shape.length !== t.shape.length || g.shape.some((d, i) => d !== t.shape[i])) {
    g.dispose();
    throw new Error(`${op} backward: gradient [${g.shape.join(', ')}] for a tensor of shape [${t.shape.join(', ')}]`);
  }
  const prev = into.get(t);
  if (!prev) {
    into.set(t, g);
    return;
  }
  addInto(prev, g);
  g.dispose();
}

// The one place the tape needs an op: set by lib/ops (which imports this module) so that this
// file does not import the op layer.
let addInto: (acc: F32, g: F32) => void = () => {
  throw new Error('tape: lib/ops is not loaded');
};
export function setAccumulator(fn: (acc: F32, g: F32) => void): void {
  addInto = fn;
}
