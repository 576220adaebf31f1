/**
 * Quest (Tang et al., 2024): query-aware page selection. The cache is cut into pages of
 * `pageSize` tokens; for each page we keep the element-wise min and max of its keys. For a query
 * q, Σ_d max(q_d·min_d, q_d·max_d) is an upper bound of q·k for every key k in the page, so pages
 * with a high bound are the only ones that can hold high-attention keys. Read the best pages
 * worth `budget` tokens, always including the current (newest, possibly partial) page.
 *
 * The bound is one dot product: Σ_d max(q_d·lo_d, q_d·hi_d) = [q⁺, q⁻] · [hi, lo] with
 * q⁺ = max(q, 0), q⁻ = min(q, 0), so pages are stored as rows [hi, lo] and one fused call per
 * layer scores every head's pages and picks their top (ops.questSelect; selection_contract.ts has
 * the layout). The rows are int8 codes times a per-page scale, rounded outward so they still bound
 * every key: 2·D + 4 bytes per page, 1/32 of what reading the page's f16 keys and values costs, so
 * choosing pages costs a fraction of reading them. The query is rounded to 8 bits per head for the
 * scores (quest_query.ts): the bound becomes an exact integer sum, which AVX-512 VNNI computes 4
 * channels × 16 pages per instruction, and every backend gives the same bits.
 *
 * GQA: the group's query heads share one selection, scored by the largest bound over the group
 * (a page is read if any head of the group may need it).
 */
import type { BackendChoice } from '../backend/types';
import { SparsennError } from '../errors';
import type { KvCacheView, KvSelection } from './contract';
import { questPageBounds, questSelect, questSelectDecode } from './ops';
import { questHeadScore, questQueryCodes } from './quest_query';
import { checkDecodePolicyPrefill, decodePolicyPrefillPattern, sameBackend, SparsePolicy, type DecodePolicyPrefill, type HeadRequest, type HeadSelection, type PrefillPattern } from './policy';
import { grownScaledRows, type ScaledInt8Rows } from './selection_contract';
import { SelectionScratch } from './selection_scratch';

export interface QuestOptions {
  /** Tokens read per head per step, current page included. */
  budget: number;
  /** Tokens per page (default 16). */
  pageSize?: number;
  /** Backend for the page bounds and scores (default 'auto'). */
  backend?: BackendChoice;
  /** 'dense' prefills the prompt with full causal attention, as the paper does; 'rows' (default) selects per prompt row (lib/attention/policy.ts). */
  prefill?: DecodePolicyPrefill;
}

/**
 * Page bounds of every KV head of one layer: per complete page the element-wise max (hi, rounded
 * up) and min (lo, rounded down) of its keys as int8 codes times the page's scale, so they still
 * bound every key. Built incrementally: each update computes only the pages completed since the
 * last one.
 */
export class PageBounds {
  rows: ScaledInt8Rows;
  /** Pages whose bounds are final. */
  complete = 0;

  constructor(
    readonly pageSize: number,
    readonly kvHeads: number,
    readonly headDim: number,
    private readonly backend: BackendChoice = 'auto',
  ) {
    this.rows = { data: new Int8Array(0), scales: new Float32Array(0), kvHeads, capacity: 0, width: 2 * headDim };
  }

  /** Brings complete pages up to date with a cache of `length` tokens. */
  update(kv: KvCacheView, length: number): void {
    const full = Math.floor(length / this.pageSize);
    if (full < this.complete) this.complete = 0; // the cache was reset: start over
    if (full > this.rows.capacity) this.grow(full);
    if (full > this.complete)
      questPageBounds({ kv: { ...kv, length }, pageSize: this.pageSize, bounds: this.rows, pageBegin: this.complete, pageEnd: full }, { backend: this.backend });
    this.complete = full;
  }

  private grow(pages: number): void {
    this.rows = grownScaledRows(this.rows, pages, 64, this.complete);
  }

  /**
   * The page score of one query head (q at qOffset) for page p of head h, as the selection computes
   * it: an upper bound of q̃·k over the page's keys, q̃ the query rounded to 8 bits (quest_query.ts).
   */
  bound(q: Float32Array, qOffset: number, h: number, p: number): number {
    const codes = questQueryCodes(q, qOffset, this.headDim);
    return Math.fround(questHeadScore(codes, this.rows, h, p) * this.rows.scales[h * this.rows.capacity + p]!); // codes · the page's scale
  }
}

/** One layer's state: its page bounds and the reusable selection buffers. */
interface LayerState {
  bounds: PageBounds;
  scratch: SelectionScratch;
}

export class QuestPolicy extends SparsePolicy {
  readonly name = 'quest';
  readonly budget: number;
  readonly pageSize: number;
  private readonly backend: BackendChoice;
  readonly prefill: DecodePolicyPrefill;
  /** State per cache buffer (a new sequence's cache gets fresh bounds) and layer. */
  private layers = new WeakMap<object, Map<number, LayerState>>();

  constructor(o: QuestOptions) {
    super();
    this.budget = o.budget;
    this.pageSize = o.pageSize ?? 16;
    this.prefill = checkDecodePolicyPrefill(o.prefill, 'quest');
    this.backend = o.backend ?? 'auto';
    if (!Number.isSafeInteger(this.budget) || this.budget < 1) throw new SparsennError('ERR_ARG', 'quest: budget must be an integer >= 1');
    if (!Number.isSafeInteger(this.pageSize) || this.pageSize < 1) throw new SparsennError('ERR_ARG', 'quest: pageSize must be an integer >= 1');
  }

  /** A 'dense' prefill runs the prompt as one causal kernel call; 'rows' asks selectLayer per row. */
  prefillPattern(_layer: number, T: number): PrefillPattern | null {
    return decodePolicyPrefillPattern(this.prefill, T);
  }

  private state(kv: KvCacheView, layer: number, length: number): LayerState {
    let m = this.layers.get(kv.k);
    if (!m) this.layers.set(kv.k, (m = new Map()));
    let s = m.get(layer);
    if (!s) m.set(layer, (s = { bounds: new PageBounds(this.pageSize, kv.kvHeads, kv.headDim, this.backend), scratch: new SelectionScratch() }));
    s.bounds.update(kv, length);
    return s;
  }

  /** Page bounds of a layer, up to date with a cache of `length` tokens. */
  pageBounds(kv: KvCacheView, layer: number, length: number): PageBounds {
    return this.state(kv, layer, length).bounds;
  }

  /** Pages to read besides the current one, or null when the budget covers everything. */
  private plan(length: number): { current: number; keep: number } | null {
    const current = Math.ceil(length / this.pageSize) - 1;
    // Whole pages from what the current page leaves of the budget.
    const keep = Math.max(0, Math.floor((this.budget - (length - current * this.pageSize)) / this.pageSize));
    return this.budget >= length || keep >= current ? null : { current, keep };
  }

  /** One head's pages: the `keep` best-bounded complete pages for its query group, then the current page. */
  selectHead(req: HeadRequest): HeadSelection {
    const length = req.pos + 1;
    const p = this.plan(length);
    if (!p) return { kind: 'all' };
    const all = this.pageBounds(req.kv, req.layer, length).rows;
    const size = all.capacity * all.width;
    const one: ScaledInt8Rows = {
      ...all,
      data: all.data.subarray(req.kvHead * size, (req.kvHead + 1) * size),
      scales: all.scales.subarray(req.kvHead * all.capacity, (req.kvHead + 1) * all.capacity),
      kvHeads: 1,
    };
    const pages = new Uint32Array(p.keep + 1);
    questSelect({ q: req.queries, heads: req.queries.length / req.kv.headDim, bounds: one, current: p.current, keep: p.keep, items: pages }, { backend: this.backend });
    return { kind: 'pages', pages, pageSize: this.pageSize };
  }

  /**
   * The layer's page choice and its decode attention in one call (questSelectDecode), into out.
   * false (nothing written) while the budget covers the whole cache, or when the caller's attention
   * backend is not the one this policy selects with (as DoubleSparsityPolicy.decodeLayer).
   */
  decodeLayer(layer: number, q: Float32Array, heads: number, kv: KvCacheView, pos: number, scale: number, out: Float32Array, backend?: BackendChoice): boolean {
    const length = pos + 1;
    const p = this.plan(length);
    if (!p) return false;
    if (!sameBackend(backend, this.backend)) return false;
    const { bounds, scratch } = this.state(kv, layer, length);
    scratch.reserve(kv.kvHeads, p.keep + 1);
    const items = scratch.items;
    questSelectDecode({ q, heads, bounds: bounds.rows, current: p.current, keep: p.keep, items, pageSize: this.pageSize, kv, scale, out }, { backend: this.backend });
    return true;
  }

  /** Every KV head of a layer in one call, into reused buffers. */
  override selectLayer(layer: number, q: Float32Array, heads: number, kv: KvCacheView, pos: number): KvSelection {
    const length = pos + 1;
    const p = this.plan(length);
    if (!p) return { kind: 'all' };
    const { bounds, scratch } = this.state(kv, layer, length);
    scratch.reserve(kv.kvHeads, p.keep + 1);
    questSelect({ q, heads, bounds: bounds.rows, current: p.current, keep: p.keep, items: scratch.items }, { backend: this.backend });
    return scratch.selection(kv.kvHeads, p.keep + 1, (offsets, items) => ({ kind: 'pages', offsets, items, pageSize: this.pageSize }));
  }
}
