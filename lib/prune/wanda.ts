/**
 * Wanda (Sun et al., 2023): score each weight by |W_ij| · ‖X_j‖₂, the size of its
 * contribution to the output on calibration inputs, and compare scores within each
 * output row (unstructured) or N:M group. No weight update.
 */
import { SparsennError } from '../errors';
import { checkOptions } from '../options';
import type { Tensor } from '../tensor';
import { checkWeight, maskedWeight, parsePattern, resolveSparsity, type PatternSpec, type PruneResult } from './pattern';
import { selectMask } from './select';

export interface WandaOptions {
  sparsity?: number;
  /** 'unstructured' (per output row, default) or 'N:M'. */
  pattern?: PatternSpec;
}

/** Input statistics Wanda needs: ‖X_j‖₂ for every input feature j (see LayerStats.featureNorms()). */
export type WandaStats = Float32Array | Float64Array | { featureNorms(): Float64Array };

export function checkFeatureNorms(stats: unknown, cols: number, fn: string): Float64Array {
  let norms: unknown = stats;
  if (stats !== null && typeof stats === 'object' && typeof (stats as { featureNorms?: unknown }).featureNorms === 'function')
    norms = (stats as { featureNorms(): Float64Array }).featureNorms();
  if (!(norms instanceof Float32Array) && !(norms instanceof Float64Array))
    throw new SparsennError('ERR_ARG', `${fn}: stats must be the input feature norms (Float32Array / Float64Array) or calibration stats`);
  if (norms.length !== cols)
    throw new SparsennError('ERR_SHAPE', `${fn}: ${norms.length} feature norms for a weight with ${cols} in_features`);
  for (let j = 0; j < cols; j++)
    if (!(norms[j]! >= 0) || !Number.isFinite(norms[j]!))
      throw new SparsennError('ERR_ARG', `${fn}: feature norm ${j} is ${norms[j]}; norms must be finite and non-negative`);
  return Float64Array.from(norms);
}

export function wanda(w: Tensor, stats: WandaStats, opts: WandaOptions): PruneResult {
  const fn = 'prune.wanda';
  const o = checkOptions<WandaOptions>(opts, ['sparsity', 'pattern'], fn);
  const pattern = parsePattern(o.pattern, fn);
  if (pattern.kind === 'block') throw new SparsennError('ERR_ARG', `${fn}: Wanda supports unstructured and N:M patterns`);
  const sparsity = resolveSparsity(o.sparsity, pattern, fn);
  const { rows, cols, values } = checkWeight(w, pattern, fn);
  const norms = checkFeatureNorms(stats, cols, fn);
  const scores = new Float64Array(values.length);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < cols; j++) scores[r * cols + j] = Math.abs(values[r * cols + j]!) * norms[j]!;
  // Wanda compares within each output row: every row keeps the same number of weights.
  const mask = selectMask(scores, rows, cols, pattern, sparsity, 'row');
  return { weight: maskedWeight(values, mask, w), mask };
}
