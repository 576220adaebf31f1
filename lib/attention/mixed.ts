/**
 * Mixes policies per layer and per KV head: `heads['layer:kvHead']` wins over `layers[layer]`,
 * which wins over `default` (e.g. streaming heads next to retrieval heads, as in LServe / MoA).
 */
import type { BackendChoice } from '../backend/types';
import { SparsennError } from '../errors';
import type { KvCacheView } from './contract';
import { SparsePolicy, type HeadRequest, type HeadSelection, type PrefillPattern, type SparseAttentionPolicy } from './policy';

export interface PolicyMap {
  default: SparseAttentionPolicy;
  layers?: Readonly<Record<number, SparseAttentionPolicy>>;
  heads?: Readonly<Record<string, SparseAttentionPolicy>>;
}

export class MixedPolicy extends SparsePolicy {
  readonly name = 'mixed';
  constructor(readonly map: PolicyMap) {
    super();
    // Eviction reshapes the whole cache (every layer, every head), so it cannot be one layer's choice.
    const all = [map.default, ...Object.values(map.layers ?? {}), ...Object.values(map.heads ?? {})];
    if (all.some((p) => p.eviction))
      throw new SparsennError('ERR_ARG', 'attention map: a policy that evicts from the cache (streaming with evict) must be the only policy, not one entry of a map');
  }

  policyFor(layer: number, kvHead: number): SparseAttentionPolicy {
    return this.map.heads?.[`${layer}:${kvHead}`] ?? this.map.layers?.[layer] ?? this.map.default;
  }

  selectHead(req: HeadRequest): HeadSelection {
    return this.policyFor(req.layer, req.kvHead).selectHead(req);
  }

  /** The one policy of a layer with no per-head entries, else null. */
  private layerPolicy(layer: number): SparseAttentionPolicy | null {
    const prefix = `${layer}:`;
    if (Object.keys(this.map.heads ?? {}).some((k) => k.startsWith(prefix))) return null;
    return this.map.layers?.[layer] ?? this.map.default;
  }

  /** A layer with no per-head entries prefills as its policy does (block pattern or rows). */
  prefillPattern(layer: number, T: number, pos0: number, heads: number, kvHeads: number): PrefillPattern | null {
    return this.layerPolicy(layer)?.prefillPattern?.(layer, T, pos0, heads, kvHeads) ?? null;
  }

  /** A layer with no per-head entries decodes as its policy does (its fused step, when it has one). */
  decodeLayer(layer: number, q: Float32Array, heads: number, kv: KvCacheView, pos: number, scale: number, out: Float32Array, backend?: BackendChoice): boolean {
    return this.layerPolicy(layer)?.decodeLayer?.(layer, q, heads, kv, pos, scale, out, backend) ?? false;
  }
}
