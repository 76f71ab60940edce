// Matrix FLOPs of one Qwen2.5-VL vision tower forward (patch embedding, blocks, merger), the
// work the benchmarks divide by the measured peak. Attention spans come from the tower's own
// window layout, so partial edge windows count as the model computes them.
import type { Grid } from '../model/rope-index.js';
import { windowLayout } from '../model/vision-layout.js';

/** vision_config of Qwen2.5-VL-3B. */
export const VISION_3B = {
  depth: 32, hidden_size: 1280, intermediate_size: 3420, num_heads: 16, out_hidden_size: 2048,
  patch_size: 14, spatial_merge_size: 2, temporal_patch_size: 2, in_channels: 3,
  window_size: 112, fullatt_block_indexes: [7, 15, 23, 31],
};

export type VisionTowerShape = typeof VISION_3B;

/** Σ length² over the spans between consecutive boundaries (query·key pairs). */
function pairs(boundaries: Int32Array): number {
  let s = 0;
  for (let i = 1; i < boundaries.length; i++) s += (boundaries[i] - boundaries[i - 1]) ** 2;
  return s;
}

/** FLOPs of the tower's matrix products for one image or video of `grid` patches. */
export function visionTowerFlops(v: VisionTowerShape, grid: Grid): number {
  const h = v.hidden_size, m2 = v.spatial_merge_size ** 2;
  const patches = grid.t * grid.h * grid.w, tokens = patches / m2;
  const embed = 2 * patches * v.in_channels * v.temporal_patch_size * v.patch_size ** 2 * h;
  const blocks = 2 * patches * v.depth * (4 * h * h + 3 * h * v.intermediate_size);  // qkv + proj, SwiGLU
  const merger = 2 * tokens * (m2 * h * m2 * h + m2 * h * v.out_hidden_size);
  const layout = windowLayout([grid], { windowSize: v.window_size, patchSize: v.patch_size, spatialMergeSize: v.spatial_merge_size });
  const full = v.fullatt_block_indexes.length;
  // QKᵀ and softmax·V: 2 products × 2 FLOPs × hidden per query·key pair
  const attention = 4 * h * ((v.depth - full) * pairs(layout.cuWindowSeqlens) + full * pairs(layout.cuSeqlens));
  return embed + blocks + merger + attention;
}
