// Shape ops: views that share memory. Under a gradient tape they record, so a gradient reaching
// the view flows back to the tensor it views.
import { recordingTape } from '../tape.js';
import { Shape, Tensor } from '../tensor.js';

/** The same memory as another shape of the same size (x.reshape, recorded on a tape). */
export function reshape<T extends Tensor>(x: T, shape: Shape): T {
  const y = x.reshape(shape) as T;
  recordingTape()?.record('reshape', [x], [y], () => ([gy]) => [gy!.reshape(x.shape)]);
  return y;
}
