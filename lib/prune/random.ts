/** Random pruning: the baseline every pruning paper compares against. Same patterns and exact counts as magnitude. */
import { SparsennError } from '../errors';
import { checkOptions } from '../options';
import type { Tensor } from '../tensor';
import { checkScope } from './magnitude';
import { checkWeight, maskedWeight, parsePattern, resolveSparsity, type PatternSpec, type PruneResult } from './pattern';
import { selectMask } from './select';
import { seededRandom } from '../random';

export interface RandomOptions {
  sparsity?: number;
  pattern?: PatternSpec;
  scope?: 'layer' | 'row';
  /** Seed of the generator (default 1): the same seed prunes the same weights. */
  seed?: number;
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
