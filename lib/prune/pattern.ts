/**
 * Sparsity patterns and the checks every pruner shares: which weights may be
 * pruned together (unstructured, N:M groups along in_features, or whole blocks),
 * how much to prune, and whether a weight matrix fits the pattern.
 */
import { SparsennError } from '../errors';
import { isDetached, Tensor } from '../tensor';

/** What a caller may pass: 'unstructured', an 'N:M' string such as '2:4', `{ n, m }`, or `{ block: [rows, cols] }`. */
export type PatternSpec = 'unstructured' | `${number}:${number}` | { n: number; m: number } | { block: readonly [number, number] };

/** The normalised pattern. */
export type Pattern =
  | { kind: 'unstructured' }
  | { kind: 'nm'; n: number; m: number }
  | { kind: 'block'; rows: number; cols: number };

/** What every pruner returns: the pruned weight (same dtype and shape as its input) and the mask (1 = kept). */
export interface PruneResult {
  weight: Tensor;
  mask: Uint8Array;
}

function positiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}

export function parsePattern(spec: unknown, fn: string): Pattern {
  if (spec === undefined || spec === 'unstructured') return { kind: 'unstructured' };
  let n: unknown;
  let m: unknown;
  if (typeof spec === 'string') {
    const match = /^(\d+):(\d+)$/.exec(spec);
    if (!match)
      throw new SparsennError('ERR_ARG', `${fn}: pattern must be 'unstructured', 'N:M' (e.g. '2:4'), {n, m} or {block: [r, c]}, got '${spec}'`);
    n = Number(match[1]);
    m = Number(match[2]);
  } else if (spec !== null && typeof spec === 'object' && 'block' in spec) {
    const b = (spec as { block: unknown }).block;
    if (!Array.isArray(b) || b.length !== 2 || !positiveInt(b[0]) || !positiveInt(b[1]))
      throw new SparsennError('ERR_ARG', `${fn}: pattern.block must be [rows, cols] of positive integers`);
    return { kind: 'block', rows: b[0], cols: b[1] };
  } else if (spec !== null && typeof spec === 'object' && 'n' in spec && 'm' in spec) {
    n = (spec as { n: unknown }).n;
    m = (spec as { m: unknown }).m;
  } else {
    throw new SparsennError('ERR_ARG', `${fn}: pattern must be 'unstructured', 'N:M' (e.g. '2:4'), {n, m} or {block: [r, c]}`);
  }
  if (!positiveInt(n) || !positiveInt(m)) throw new SparsennError('ERR_ARG', `${fn}: N and M of an N:M pattern must be positive integers`);
  if (n >= m) throw new SparsennError('ERR_ARG', `${fn}: an N:M pattern keeps N of every M weights, so N < M is required (got ${n}:${m})`);
  if (m > 255) throw new SparsennError('ERR_ARG', `${fn}: M must be at most 255, got ${m}`);
  return { kind: 'nm', n, m };
}

export function patternName(p: Pattern): string {
  return p.kind === 'unstructured' ? 'unstructured' : p.kind === 'nm' ? `${p.n}:${p.m}` : `block ${p.rows}x${p.cols}`;
}

/**
 * The sparsity to prune to. For N:M it is implied (1 − N/M): `sparsity` may be
 * omitted, and when given must agree.
 */
export function resolveSparsity(sparsity: unknown, pattern: Pattern, fn: string): number {
  if (pattern.kind === 'nm') {
    const implied = 1 - pattern.n / pattern.m;
    if (sparsity !== undefined && (typeof sparsity !== 'number' || Math.abs(sparsity - implied) > 1e-9))
      throw new SparsennError(
        'ERR_ARG',
        `${fn}: pattern ${pattern.n}:${pattern.m} means sparsity ${implied}, but sparsity ${String(sparsity)} was asked for`,
      );
    return implied;
  }
  if (typeof sparsity !== 'number' || !Number.isFinite(sparsity) || sparsity < 0 || sparsity >= 1)
    throw new SparsennError('ERR_ARG', `${fn}: sparsity must be a number in [0, 1), got ${String(sparsity)}`);
  return sparsity;
}

/** Checks a weight tensor: a Tensor of shape [out_features, in_features] with finite values, that fits the pattern. */
export function checkWeight(w: unknown, pattern: Pattern, fn: string): { rows: number; cols: number; values: Float32Array } {
  if (!(w instanceof Tensor)) throw new SparsennError('ERR_ARG', `${fn}: the weight must be a Tensor`);
  if (w.shape.length !== 2)
    throw new SparsennError('ERR_SHAPE', `${fn}: the weight must be [out_features, in_features], got [${w.shape.join(', ')}]`);
  const [rows, cols] = w.shape as [number, number];
  if (isDetached(w.data) && rows * cols > 0) throw new SparsennError('ERR_DETACHED', `${fn}: the weight's data is detached`);
  if (w.data.length !== rows * cols) throw new SparsennError('ERR_SHAPE', `${fn}: the weight's data no longer matches its shape`);
  checkFits(rows, cols, pattern, fn);
  const values = w.toFloat32();
  for (let i = 0; i < values.length; i++)
    if (!Number.isFinite(values[i]!))
      throw new SparsennError('ERR_ARG', `${fn}: the weight holds a non-finite value (${values[i]}) at index ${i}`);
  return { rows, cols, values };
}

/**
 * Throws ERR_PATTERN when a [rows, cols] weight cannot hold the pattern: blocks must
 * tile it. N:M fits any width: a last partial group prunes proportionally (nmPruneCount).
 */
export function checkFits(rows: number, cols: number, pattern: Pattern, fn: string): void {
  if (pattern.kind === 'block' && (rows % pattern.rows !== 0 || cols % pattern.cols !== 0))
    throw new SparsennError(
      'ERR_PATTERN',
      `${fn}: a [${rows}, ${cols}] weight does not split into ${pattern.rows}x${pattern.cols} blocks`,
    );
}

/** The pruned weight: `values` with masked-out entries set to zero, in `dtype`. */
export function maskedWeight(values: Float32Array, mask: Uint8Array, like: Tensor): Tensor {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = mask[i] ? values[i]! : 0;
  const t = new Tensor(out, like.shape);
  return like.dtype === 'f32' ? t : t.to(like.dtype);
}

/** Fraction of zeros in a mask. */
export function maskSparsity(mask: Uint8Array): number {
  let pruned = 0;
  for (let i = 0; i < mask.length; i++) if (!mask[i]) pruned++;
  return mask.length === 0 ? 0 : pruned / mask.length;
}
