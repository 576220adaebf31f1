/**
 * Mask selection from importance scores, shared by every score-based pruner
 * (magnitude, random, Wanda, DSnoT's start). Lower score = pruned first; ties go
 * to the lower index, so results are deterministic and counts are exact.
 */
import type { Pattern } from './pattern';

/**
 * Prunes exactly `count` of the entries begin, begin+stride, ... (len of them):
 * the lowest scores, ties broken by lower index. mask entries must start at 1.
 */
export function pruneLowest(
  scores: Float64Array,
  mask: Uint8Array,
  begin: number,
  len: number,
  count: number,
  stride = 1,
): void {
  if (count <= 0) return;
  if (count >= len) {
    for (let i = 0; i < len; i++) mask[begin + i * stride] = 0;
    return;
  }
  const sorted = new Float64Array(len);
  for (let i = 0; i < len; i++) sorted[i] = scores[begin + i * stride]!;
  sorted.sort();
  const threshold = sorted[count - 1]!;
  let pruned = 0;
  for (let i = 0; i < len; i++) {
    const at = begin + i * stride;
    if (scores[at]! < threshold) {
      mask[at] = 0;
      pruned++;
    }
  }
  for (let i = 0; i < len && pruned < count; i++) {
    const at = begin + i * stride;
    if (scores[at] === threshold) {
      mask[at] = 0;
      pruned++;
    }
  }
}

/** How many of `total` entries a sparsity prunes: the nearest whole number. */
export function pruneCount(sparsity: number, total: number): number {
  return Math.min(total, Math.round(sparsity * total));
}

/**
 * How many of a group's w inputs N:M prunes: m − n for a whole group; a last,
 * partial group (in_features not a multiple of m) prunes ⌊(m − n)·w/m⌋, never a
 * larger fraction than the pattern. The N:M format pads such a group.
 */
export function nmPruneCount(n: number, m: number, w: number): number {
  return w === m ? m - n : Math.floor(((m - n) * w) / m);
}

/** In each group of m consecutive inputs of a row, prunes the m − n lowest scores. */
export function selectNm(scores: Float64Array, mask: Uint8Array, rows: number, cols: number, n: number, m: number): void {
  for (let r = 0; r < rows; r++)
    for (let g = 0; g < cols; g += m) {
      const w = Math.min(m, cols - g);
      pruneLowestSmall(scores, mask, r * cols + g, w, nmPruneCount(n, m, w));
    }
}

/** pruneLowest for a handful of entries (an N:M group): repeated minimum, no allocation. */
export function pruneLowestSmall(scores: ArrayLike<number>, mask: Uint8Array, begin: number, len: number, count: number): void {
  for (let c = 0; c < count; c++) {
    let best = -1;
    for (let i = begin; i < begin + len; i++) if (mask[i] && (best < 0 || scores[i]! < scores[best]!)) best = i;
    mask[best] = 0;
  }
}

/**
 * Builds a mask from per-element scores for any pattern.
 * - unstructured, scope 'layer': the lowest round(s·rows·cols) scores of the whole matrix;
 * - unstructured, scope 'row': the lowest round(s·cols) of each output row;
 * - N:M: the lowest m − n of each group;
 * - block: blocks scored by the L2 norm of their element scores, the lowest round(s·blocks) pruned.
 */
export function selectMask(
  scores: Float64Array,
  rows: number,
  cols: number,
  pattern: Pattern,
  sparsity: number,
  scope: 'layer' | 'row',
): Uint8Array {
  const mask = new Uint8Array(rows * cols).fill(1);
  if (pattern.kind === 'nm') {
    selectNm(scores, mask, rows, cols, pattern.n, pattern.m);
  } else if (pattern.kind === 'block') {
    const br = rows / pattern.rows;
    const bc = cols / pattern.cols;
    const blockScores = new Float64Array(br * bc);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        const s = scores[r * cols + c]!;
        blockScores[Math.floor(r / pattern.rows) * bc + Math.floor(c / pattern.cols)]! += s * s;
      }
    const blockMask = new Uint8Array(br * bc).fill(1);
    pruneLowest(blockScores, blockMask, 0, br * bc, pruneCount(sparsity, br * bc));
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++)
        mask[r * cols + c] = blockMask[Math.floor(r / pattern.rows) * bc + Math.floor(c / pattern.cols)]!;
  } else if (scope === 'row') {
    const k = pruneCount(sparsity, cols);
    for (let r = 0; r < rows; r++) pruneLowest(scores, mask, r * cols, cols, k);
  } else {
    pruneLowest(scores, mask, 0, rows * cols, pruneCount(sparsity, rows * cols));
  }
  return mask;
}
