/**
 * Magnitude pruning: drop the weights with the smallest |w|. Per layer (one
 * threshold for the matrix), per output row, N:M, or blocks scored by norm; and a
 * global variant with one threshold across several layers.
 */
import { SparsennError } from '../errors';
import { checkOptions } from '../options';
import type { Tensor } from '../tensor';
import { checkWeight, maskedWeight, parsePattern, resolveSparsity, type PatternSpec, type PruneResult } from './pattern';
import { pruneCount, pruneLowest, selectMask } from './select';

export interface MagnitudeOptions {
  /** Fraction of weights to remove, in [0, 1). Implied by an N:M pattern. */
  sparsity?: number;
  /** 'unstructured' (default), 'N:M' / {n, m}, or {block: [rows, cols]}. */
  pattern?: PatternSpec;
  /** Unstructured only: compare weights across the whole matrix ('layer', default) or within each output row ('row'). */
  scope?: 'layer' | 'row';
}

const OPTIONS = ['sparsity', 'pattern', 'scope'] as const;

export function checkScope(scope: unknown, fn: string): 'layer' | 'row' {
  if (scope === undefined || scope === 'layer' || scope === 'row') return scope ?? 'layer';
  throw new SparsennError('ERR_ARG', `${fn}: scope must be 'layer' or 'row', got ${String(scope)}`);
}

export function magnitude(w: Tensor, opts: MagnitudeOptions): PruneResult {
  const fn = 'prune.magnitude';
  const o = checkOptions<MagnitudeOptions>(opts, OPTIONS, fn);
  const pattern = parsePattern(o.pattern, fn);
  const sparsity = resolveSparsity(o.sparsity, pattern, fn);
  const scope = checkScope(o.scope, fn);
  const { rows, cols, values } = checkWeight(w, pattern, fn);
  const scores = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) scores[i] = Math.abs(values[i]!);
  const mask = selectMask(scores, rows, cols, pattern, sparsity, scope);
  return { weight: maskedWeight(values, mask, w), mask };
}

/**
 * Global magnitude pruning: one threshold across all the given layers, so layers
 * with many small weights lose more. Unstructured; exactly round(s·total) pruned.
 */
export function magnitudeGlobal(weights: readonly Tensor[], opts: { sparsity: number }): PruneResult[] {
  const fn = 'prune.magnitudeGlobal';
  const o = checkOptions<{ sparsity: number }>(opts, ['sparsity'], fn);
  if (!Array.isArray(weights) || weights.length === 0)
    throw new SparsennError('ERR_ARG', `${fn}: weights must be a non-empty array of Tensors`);
  const sparsity = resolveSparsity(o.sparsity, { kind: 'unstructured' }, fn);
  const checked = weights.map((w) => checkWeight(w, { kind: 'unstructured' }, fn));
  const total = checked.reduce((a, c) => a + c.values.length, 0);
  const scores = new Float64Array(total);
  let at = 0;
  for (const c of checked) for (let i = 0; i < c.values.length; i++) scores[at++] = Math.abs(c.values[i]!);
  const mask = new Uint8Array(total).fill(1);
  pruneLowest(scores, mask, 0, total, pruneCount(sparsity, total));
  at = 0;
  return checked.map((c, i) => {
    const m = mask.slice(at, at + c.values.length);
    at += c.values.length;
    return { weight: maskedWeight(c.values, m, weights[i]!), mask: m };
  });
}
