/** Random pruning: the baseline every pruning paper compares against. Same patterns and exact counts as magnitude. */
import { SparsennError } from '../errors';
import { checkOptions } from '../options';
import type { Tensor } from '../tensor';
import { checkScope } from './magnitude';
import { checkWeight, maskedWeight, parsePattern, resolveSparsity, type PatternSpec, type PruneResult } from './pattern';
import { selectMask } from './select';

export interface RandomOptions {
  sparsity?: number;
  pattern?: PatternSpec;
  scope?: 'layer' | 'row';
  /** Seed of the generator (default 1): the same seed prunes the same weights. */
  seed?: number;
}

/** mulberry32: small, seeded, uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function random(w: Tensor, opts: RandomOptions): PruneResult {
  const fn = 'prune.random';
  const o = checkOptions<RandomOptions>(opts, ['sparsity', 'pattern', 'scope', 'seed'], fn);
  const pattern = parsePattern(o.pattern, fn);
  const sparsity = resolveSparsity(o.sparsity, pattern, fn);
  const scope = checkScope(o.scope, fn);
  if (o.seed !== undefined && !Number.isSafeInteger(o.seed))
    throw new SparsennError('ERR_ARG', `${fn}: seed must be an integer, got ${String(o.seed)}`);
  const { rows, cols, values } = checkWeight(w, pattern, fn);
  const next = seededRandom(o.seed ?? 1);
  const scores = new Float64Array(values.length);
  for (let i = 0; i < scores.length; i++) scores[i] = next();
  const mask = selectMask(scores, rows, cols, pattern, sparsity, scope);
  return { weight: maskedWeight(values, mask, w), mask };
}
