/**
 * Mixes policies per layer and per KV head: `heads['layer:kvHead']` wins over `layers[layer]`,
 * which wins over `default` (e.g. streaming heads next to retrieval heads, as in LServe / MoA).
 */
import { SparsePolicy, type HeadRequest, type HeadSelection, type SparseAttentionPolicy } from './policy';

export interface PolicyMap {
  default: SparseAttentionPolicy;
  layers?: Readonly<Record<number, SparseAttentionPolicy>>;
  heads?: Readonly<Record<string, SparseAttentionPolicy>>;
}

export class MixedPolicy extends SparsePolicy {
  readonly name = 'mixed';
  constructor(readonly map: PolicyMap) {
    super();
  }

  policyFor(layer: number, kvHead: number): SparseAttentionPolicy {
    return this.map.heads?.[`${layer}:${kvHead}`] ?? this.map.layers?.[layer] ?? this.map.default;
  }

  selectHead(req: HeadRequest): HeadSelection {
    return this.policyFor(req.layer, req.kvHead).selectHead(req);
  }
}
