/**
 * TidalDecode (Yang et al., 2024): position-persistent sparse attention. Tokens that matter to one
 * layer mostly matter to the next ones, so full attention runs only at a few selection layers,
 * which also pick the top-`budget` positions by q·k; every other layer reuses the positions chosen
 * by the latest selection layer for the same query position. Layers before the first selection
 * layer are dense (the paper keeps the first two layers dense).
 *
 * GQA: ranked by the largest q·k over the group's heads.
 */
import { SparsennError } from '../errors';
import type { BackendChoice } from '../backend/types';
import { attentionGroupScores, topKRows } from './ops';
import { checkDecodePolicyPrefill, decodePolicyPrefillPattern, SparsePolicy, type DecodePolicyPrefill, type HeadRequest, type HeadSelection, type PrefillPattern } from './policy';

export interface TidalOptions {
  /** Tokens read per head per step in the reusing layers. */
  budget: number;
  /** Layers that run full attention and (re)select positions (default [2]; the paper adds one mid-stack). */
  selectionLayers?: readonly number[];
  /** Backend for the selection scores (default 'auto'). */
  backend?: BackendChoice;
  /** 'dense' prefills the prompt with full causal attention, as the paper does; 'rows' (default) selects per prompt row (lib/attention/policy.ts). */
  prefill?: DecodePolicyPrefill;
}

/** What one sequence's selection layers chose in the current forward pass: `kvHead:pos` → positions. */
type Chosen = Map<string, Uint32Array>;

export class TidalPolicy extends SparsePolicy {
  readonly name = 'tidal';
  readonly budget: number;
  readonly selectionLayers: readonly number[];
  private readonly backend: BackendChoice;
  readonly prefill: DecodePolicyPrefill;
  /** State for callers that give no sequence (one sequence at a time, e.g. kernel-level use). */
  private readonly unattached: Chosen = new Map();

  constructor(o: TidalOptions) {
    super();
    this.budget = o.budget;
    this.selectionLayers = [...(o.selectionLayers ?? [2])].sort((a, b) => a - b);
    this.prefill = checkDecodePolicyPrefill(o.prefill, 'tidal');
    this.backend = o.backend ?? 'auto';
    if (!Number.isSafeInteger(this.budget) || this.budget < 1) throw new SparsennError('ERR_ARG', 'tidal: budget must be an integer >= 1');
    if (this.selectionLayers.length === 0 || this.selectionLayers.some((l) => !Number.isSafeInteger(l) || l < 0))
      throw new SparsennError('ERR_ARG', 'tidal: selectionLayers must be a non-empty list of layer indices');
  }

  /** A 'dense' prefill runs the prompt as one causal kernel call; 'rows' asks selectLayer per row. */
  prefillPattern(_layer: number, T: number): PrefillPattern | null {
    return decodePolicyPrefillPattern(this.prefill, T);
  }

  /**
   * The chosen positions live with the sequence (its cache), so sequences decoded in one batch,
   * which share this policy object, never read each other's choices. A forward pass appends rows
   * from position cache.length on; its first row at the first selection layer starts afresh, so
   * only the current pass's choices are ever kept.
   */
  private chosenFor(req: HeadRequest): Chosen {
    if (!req.sequence) {
      if (this.unattached.size > 4096) this.unattached.clear();
      return this.unattached;
    }
    const chosen = req.sequence.policyState(this, (): Chosen => new Map());
    if (req.layer === this.selectionLayers[0] && req.kvHead === 0 && req.pos === req.sequence.length) chosen.clear();
    return chosen;
  }

  selectHead(req: HeadRequest): HeadSelection {
    const length = req.pos + 1;
    if (req.layer < this.selectionLayers[0]!) return { kind: 'all' };
    if (this.selectionLayers.includes(req.layer)) {
      const chosen = this.chosenFor(req);
      if (this.budget < length) chosen.set(`${req.kvHead}:${req.pos}`, this.select(req));
      return { kind: 'all' };
    }
    if (this.budget >= length) return { kind: 'all' };
    const tokens = (req.sequence ? req.sequence.policyState(this, (): Chosen => new Map()) : this.unattached).get(`${req.kvHead}:${req.pos}`);
    return tokens ? { kind: 'indices', tokens } : { kind: 'all' };
  }

  /** The top budget − 1 older positions by exact q·k (max over the group), plus the newest. */
  private select(req: HeadRequest): Uint32Array {
    const length = req.pos + 1;
    const kv = req.kv;
    const scores = new Float32Array(length - 1);
    // Exact q·k of every older key (max over the group), on the native score kernel.
    const rows = { ...kv, k: kv.k.subarray(req.kvHead * kv.headStride), v: kv.k.subarray(req.kvHead * kv.headStride), kvHeads: 1, length: length - 1 };
    attentionGroupScores({ q: req.queries, heads: req.queries.length / kv.headDim, rows, out: scores }, { backend: this.backend });
    const top = topKRows(scores, 1, length - 1, this.budget - 1, { backend: this.backend })[0]!;
    const tokens = new Uint32Array(top.length + 1);
    tokens.set(top);
    tokens[top.length] = length - 1; // the newest token is always read
    return tokens;
  }
}
