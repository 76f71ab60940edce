// Index bookkeeping of the vision tower (pure integer/angle math, no tensors):
// - `windowLayout`: HF `get_window_index` (order of merged tokens by attention window,
//   window boundaries) plus the per-frame boundaries used by full-attention blocks;
// - `rotaryAngles`: HF `rot_pos_emb`, the 2-D rotary angles of each patch.
// Patches arrive in the processor's order: per frame, 2x2 merge groups in raster order of the
// merged grid, each group's 4 patches in raster order.
import type { Grid } from './rope-index.js';
import { inverseFrequencies } from './rope-index.js';

export interface WindowLayout {
  /** Merged-token indices in window order (the rows the blocks see, in units of merge²). */
  windowIndex: Int32Array;
  /** Window boundaries in patch units, with the duplicates of empty padded windows. */
  cuWindowSeqlensRaw: Int32Array;
  /** The same after removing consecutive duplicates (what windowed blocks use). */
  cuWindowSeqlens: Int32Array;
  /** Per-frame boundaries in patch units (what full-attention blocks use). */
  cuSeqlens: Int32Array;
}

/**
 * Each image's merged grid is padded at the bottom/right to a multiple of the window (a full
 * extra row/column of empty windows when it already is one, as HF does); windows are visited
 * in raster order per frame and their valid tokens listed in raster order.
 */
export function windowLayout(
  grids: readonly Grid[],
  opts: { windowSize: number; patchSize: number; spatialMergeSize: number },
): WindowLayout {
  const m = opts.spatialMergeSize;
  const unit = m * m;
  const win = opts.windowSize / m / opts.patchSize;  // window side in merged tokens
  const index: number[] = [];
  const cuRaw: number[] = [0];
  const cuFrames: number[] = [0];
  let base = 0;
  for (const g of grids) {
    const gh = g.h / m, gw = g.w / m;
    const nwh = (gh + win - (gh % win)) / win, nww = (gw + win - (gw % win)) / win;
    for (let t = 0; t < g.t; t++) {
      const frame = base + t * gh * gw;
      for (let wy = 0; wy < nwh; wy++) {
        for (let wx = 0; wx < nww; wx++) {
          let count = 0;
          for (let y = wy * win; y < Math.min((wy + 1) * win, gh); y++) {
            for (let x = wx * win; x < Math.min((wx + 1) * win, gw); x++) {
              index.push(frame + y * gw + x);
              count++;
            }
          }
          cuRaw.push(cuRaw[cuRaw.length - 1] + count * unit);
        }
      }
      cuFrames.push(cuFrames[cuFrames.length - 1] + g.h * g.w);
    }
    base += g.t * gh * gw;
  }
  const cu = cuRaw.filter((v, i) => i === 0 || v !== cuRaw[i - 1]);
  return {
    windowIndex: Int32Array.from(index),
    cuWindowSeqlensRaw: Int32Array.from(cuRaw),
    cuWindowSeqlens: Int32Array.from(cu),
    cuSeqlens: Int32Array.from(cuFrames),
  };
}

/** argsort of a permutation: where each original row went. */
export function inversePermutation(perm: Int32Array): Int32Array {
  const inv = new Int32Array(perm.length);
  for (let i = 0; i < perm.length; i++) inv[perm[i]] = i;
  return inv;
}

/** Expands a permutation of merge groups to one of their patch rows (`unit` rows per group). */
export function expandGroups(perm: Int32Array, unit: number): Int32Array {
  const out = new Int32Array(perm.length * unit);
  for (let i = 0; i < perm.length; i++) for (let u = 0; u < unit; u++) out[i * unit + u] = perm[i] * unit + u;
  return out;
}

/**
 * Rotary angles [patches, headDim/2] in pixel_values row order: the first headDim/4 from the
 * patch row, the rest from the patch column, with inv_freq 1/10000^(2i/(headDim/2)) (float32
 * like HF, which then uses cat(angles, angles) with rotate-half).
 */
export function rotaryAngles(grids: readonly Grid[], opts: { headDim: number; spatialMergeSize: number }): Float32Array {
  const quarter = opts.headDim / 4;
  const inv = inverseFrequencies(opts.headDim / 2, 10000);
  const m = opts.spatialMergeSize;
  const total = grids.reduce((s, g) => s + g.t * g.h * g.w, 0);
  const out = new Float32Array(total * 2 * quarter);
  let row = 0;
  for (const g of grids) {
    for (let t = 0; t < g.t; t++) {
      for (let by = 0; by < g.h / m; by++) {
        for (let bx = 0; bx < g.w / m; bx++) {
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < m; j++, row++) {
              const h = by * m + i, w = bx * m + j;
              for (let f = 0; f < quarter; f++) {
                out[row * 2 * quarter + f] = Math.fround(h * inv[f]);
                out[row * 2 * quarter + quarter + f] = Math.fround(w * inv[f]);
              }
            }
          }
        }
      }
    }
  }
  return out;
}

/** cos/sin of angles (same layout), for the rotate-half rope op. */
export function cosSinOf(angles: Float32Array): { cos: Float32Array; sin: Float32Array } {
  const cos = new Float32Array(angles.length), sin = new Float32Array(angles.length);
  for (let i = 0; i < angles.length; i++) {
    cos[i] = Math.cos(angles[i]);
    sin[i] = Math.sin(angles[i]);
  }
  return { cos, sin };
}
