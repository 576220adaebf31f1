/**
 * Turns the user's `attention` option into a policy:
 *   { policy: 'quest', budget: 1024, pageSize: 16 }
 *   { policy: 'streaming', sinks: 4, window: 1020 }              (evict: true bounds the cache's memory)
 *   { default: {...}, layers: { 0: {...} }, heads: { '3:1': {...} } }   (a per-layer / per-head map)
 * or a policy object itself.
 */
import { SparsennError } from '../errors';
import type { AttentionPolicy } from '../nn/attention';
import { checkOptions } from '../options';
import { DoubleSparsityPolicy, type DoubleSparsityOptions } from './double_sparsity';
import { FullPolicy } from './full';
import { MixedPolicy } from './mixed';
import { MoaPolicy, type MoaOptions } from './moa';
import type { SparseAttentionPolicy } from './policy';
import { QuestPolicy, type QuestOptions } from './quest';
import { StreamingPolicy, type StreamingOptions } from './streaming';
import { TidalPolicy, type TidalOptions } from './tidal';

export type AttentionSpec =
  | { policy: 'full' }
  | ({ policy: 'streaming' } & StreamingOptions)
  | ({ policy: 'quest' } & QuestOptions)
  | ({ policy: 'doubleSparsity' } & DoubleSparsityOptions)
  | ({ policy: 'tidal' } & TidalOptions)
  | ({ policy: 'moa' } & MoaOptions);

export interface AttentionMapSpec {
  default: AttentionSpec | SparseAttentionPolicy;
  layers?: Record<number, AttentionSpec | SparseAttentionPolicy>;
  heads?: Record<string, AttentionSpec | SparseAttentionPolicy>;
}

function isPolicy(x: unknown): x is SparseAttentionPolicy {
  return typeof x === 'object' && x !== null && typeof (x as SparseAttentionPolicy).selectHead === 'function';
}

export function createAttentionPolicy(spec: AttentionSpec | AttentionMapSpec | SparseAttentionPolicy): SparseAttentionPolicy {
  if (isPolicy(spec)) return spec;
  if (typeof spec !== 'object' || spec === null) throw new SparsennError('ERR_ARG', 'attention: expected a policy spec object');
  if ('default' in spec) {
    const m = checkOptions<AttentionMapSpec>(spec, ['default', 'layers', 'heads'], 'attention map');
    const mapAll = (r?: Record<string | number, AttentionSpec | SparseAttentionPolicy>) =>
      r ? Object.fromEntries(Object.entries(r).map(([k, v]) => [k, createAttentionPolicy(v)])) : undefined;
    return new MixedPolicy({ default: createAttentionPolicy(m.default!), layers: mapAll(m.layers), heads: mapAll(m.heads) });
  }
  const s = spec;
  switch (s.policy) {
    case 'full':
      checkOptions(s, ['policy'], 'attention full');
      return new FullPolicy();
    case 'streaming':
      checkOptions(s, ['policy', 'sinks', 'window', 'evict', 'evictBatch', 'prefill'], 'attention streaming');
      return new StreamingPolicy(s);
    case 'quest':
      checkOptions(s, ['policy', 'budget', 'pageSize', 'backend', 'prefill'], 'attention quest');
      return new QuestPolicy(s);
    case 'doubleSparsity':
      checkOptions(s, ['policy', 'budget', 'channels', 'labelChannels', 'labelBits', 'backend', 'prefill'], 'attention doubleSparsity');
      return new DoubleSparsityPolicy(s);
    case 'tidal':
      checkOptions(s, ['policy', 'budget', 'selectionLayers', 'backend', 'prefill'], 'attention tidal');
      return new TidalPolicy(s);
    case 'moa':
      checkOptions(s, ['policy', 'spans', 'sinks', 'prefill'], 'attention moa');
      return new MoaPolicy(s);
    default:
      throw new SparsennError(
        'ERR_ARG',
        `attention: unknown policy '${String((s as { policy?: unknown }).policy)}' (full, streaming, quest, doubleSparsity, tidal, moa)`,
      );
  }
}

/** What an `attention` option accepts: a policy object (anything with selectKeys), a spec, or a map. */
export type AttentionOption = AttentionSpec | AttentionMapSpec | AttentionPolicy;

/**
 * Resolves an `attention` option (generate, perplexity, logits) to a policy: undefined stays
 * undefined (dense), an object with selectKeys is used as is, a spec or map is built here.
 */
export function resolveAttentionPolicy(option: unknown, fn: string): AttentionPolicy | undefined {
  if (option === undefined) return undefined;
  if (typeof (option as AttentionPolicy | null)?.selectKeys === 'function') return option as AttentionPolicy;
  if (typeof option === 'object' && option !== null && ('policy' in option || 'default' in option))
    return createAttentionPolicy(option as AttentionSpec | AttentionMapSpec);
  throw new SparsennError(
    'ERR_ARG',
    `${fn}: attention must be a policy spec such as { policy: 'quest', budget: 1024 }, a per-layer map { default, layers, heads }, or an object with a selectKeys(selection) method`,
  );
}
