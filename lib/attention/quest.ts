/**
 * Quest (Tang et al., 2024): query-aware page selection. The cache is cut into pages of
 * `pageSize` tokens; for each page we keep the element-wise min and max of its keys. For a query
 * q, Σ_d max(q_d·min_d, q_d·max_d) is an upper bound of q·k for every key k in the page, so pages
 * with a high bound are the only ones that can hold high-attention keys. Read the best pages
 * worth `budget` tokens, always including the current (newest, possibly partial) page.
 *
 * The bound is one dot product: Σ_d max(q_d·lo_d, q_d·hi_d) = [q⁺, q⁻] · [hi, lo] with
 * q⁺ = max(q, 0), q⁻ = min(q, 0), so pages are stored as rows [hi, lo] (bf16, rounded outward) and
 * scored by the same native group-score kernel as the keys themselves.
 *
 * GQA: the group's query heads share one selection, scored by the largest bound over the group
 * (a page is read if any head of the group may need it).
 */
import type { BackendChoice } from '../backend/types';
import { bf16ToF32 } from '../dtype';
import { SparsennError } from '../errors';
import type { KvCacheView, KvSelection } from './contract';
import { attentionGroupScores, topKRows } from './ops';
import { readRow, SparsePolicy, type HeadRequest, type HeadSelection } from './policy';

export interface QuestOptions {
  /** Tokens read per head per step, current page included. */
  budget: number;
  /** Tokens per page (default 16). */
  pageSize?: number;
  /** Backend for the page scores (default 'auto'). */
  backend?: BackendChoice;
}

/** x as bf16 bits rounded toward +∞ (up) or −∞ (down), so stored bounds stay bounds. */
const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
function bf16Directed(x: number, up: boolean): number {
  f32buf[0] = x;
  const bits = u32buf[0]!;
  let h = bits >>> 16;
  if ((bits & 0xffff) !== 0 && (bits & 0x7f800000) !== 0x7f800000) {
    // Truncation moved toward zero: step one ulp away from zero when that is the wanted direction.
    const negative = (bits & 0x80000000) !== 0;
    if (up !== negative) h += 1;
  }
  return h & 0xffff;
}

/**
 * Page bounds of every KV head of one layer, rows [hi(D), lo(D)] per complete page in bf16 (hi
 * rounded up, lo rounded down, so they still bound every key; half the bytes of f32 for the
 * selection pass to read), built incrementally as pages fill.
 */
export class PageBounds {
  rows = new Uint16Array(0);
  /** Pages each head has room for. */
  capacity = 0;
  /** Pages whose bounds are final. */
  complete = 0;

  constructor(
    readonly pageSize: number,
    readonly kvHeads: number,
    readonly headDim: number,
  ) {}

  /** Brings complete pages up to date with a cache of `length` tokens. */
  update(kv: KvCacheView, length: number): void {
    const full = Math.floor(length / this.pageSize);
    if (full < this.complete) this.complete = 0; // the cache was reset: start over
    const D = this.headDim;
    const W = 2 * D;
    if (full > this.capacity) {
      const cap = Math.max(full, 2 * this.capacity, 64);
      const rows = new Uint16Array(this.kvHeads * cap * W);
      for (let h = 0; h < this.kvHeads; h++)
        rows.set(this.rows.subarray(h * this.capacity * W, (h * this.capacity + this.complete) * W), h * cap * W);
      this.rows = rows;
      this.capacity = cap;
    }
    const row = new Float32Array(D);
    const hi = new Float32Array(D);
    const lo = new Float32Array(D);
    for (let h = 0; h < this.kvHeads; h++)
      for (let p = this.complete; p < full; p++) {
        hi.fill(-Infinity);
        lo.fill(Infinity);
        for (let t = p * this.pageSize; t < (p + 1) * this.pageSize; t++) {
          readRow(kv, 'k', h, t, row);
          for (let d = 0; d < D; d++) {
            if (row[d]! > hi[d]!) hi[d] = row[d]!;
            if (row[d]! < lo[d]!) lo[d] = row[d]!;
          }
        }
        const o = (h * this.capacity + p) * W;
        for (let d = 0; d < D; d++) {
          this.rows[o + d] = bf16Directed(hi[d]!, true);
          this.rows[o + D + d] = bf16Directed(lo[d]!, false);
        }
      }
    this.complete = full;
  }

  /** Upper bound of q·k over page p of head h (the readable form of what the kernel computes). */
  bound(q: Float32Array, qOffset: number, h: number, p: number): number {
    const D = this.headDim;
    const o = (h * this.capacity + p) * 2 * D;
    let s = 0;
    for (let d = 0; d < D; d++) {
      const qd = q[qOffset + d]!;
      s += Math.max(qd * bf16ToF32(this.rows[o + D + d]!), qd * bf16ToF32(this.rows[o + d]!));
    }
    return s;
  }

  /** The first `pages` page rows as a cache view, for the group-score kernel. */
  view(pages: number): KvCacheView {
    const W = 2 * this.headDim;
    return { k: this.rows, v: this.rows, dtype: 'bf16', kvHeads: this.kvHeads, length: pages, headDim: W, headStride: this.capacity * W, tokenStride: W };
  }
}

/** [q⁺, q⁻] per query head: the bound as a dot product with [hi, lo]. */
function splitSigns(q: Float32Array, heads: number, D: number): Float32Array {
  const out = new Float32Array(heads * 2 * D);
  for (let h = 0; h < heads; h++)
    for (let d = 0; d < D; d++) {
      const x = q[h * D + d]!;
      out[h * 2 * D + d] = x > 0 ? x : 0;
      out[h * 2 * D + D + d] = x < 0 ? x : 0;
    }
  return out;
}

export class QuestPolicy extends SparsePolicy {
  readonly name = 'quest';
  readonly budget: number;
  readonly pageSize: number;
  private readonly backend: BackendChoice;
  /** Bounds per cache buffer (a new sequence's cache gets fresh bounds) and layer. */
  private bounds = new WeakMap<object, Map<number, PageBounds>>();

  constructor(o: QuestOptions) {
    super();
    this.budget = o.budget;
    this.pageSize = o.pageSize ?? 16;
    this.backend = o.backend ?? 'auto';
    if (!Number.isSafeInteger(this.budget) || this.budget < 1) throw new SparsennError('ERR_ARG', 'quest: budget must be an integer >= 1');
    if (!Number.isSafeInteger(this.pageSize) || this.pageSize < 1) throw new SparsennError('ERR_ARG', 'quest: pageSize must be an integer >= 1');
  }

  pageBounds(kv: KvCacheView, layer: number, length: number): PageBounds {
    let m = this.bounds.get(kv.k);
    if (!m) this.bounds.set(kv.k, (m = new Map()));
    let b = m.get(layer);
    if (!b) m.set(layer, (b = new PageBounds(this.pageSize, kv.kvHeads, kv.headDim)));
    b.update(kv, length);
    return b;
  }

  /** Pages to read besides the current one, or null when the budget covers everything. */
  private plan(length: number): { current: number; keep: number } | null {
    const current = Math.ceil(length / this.pageSize) - 1;
    // Whole pages from what the current page leaves of the budget.
    const keep = Math.max(0, Math.floor((this.budget - (length - current * this.pageSize)) / this.pageSize));
    return this.budget >= length || keep >= current ? null : { current, keep };
  }

  /** Scores the complete pages before `current` for `heads` query heads over `kvHeads` KV heads. */
  private choose(q: Float32Array, heads: number, bounds: PageBounds, rows: KvCacheView, current: number, keep: number): Uint32Array[] {
    const scores = new Float32Array(rows.kvHeads * current);
    attentionGroupScores({ q: splitSigns(q, heads, bounds.headDim), heads, rows: { ...rows, length: current }, out: scores }, { backend: this.backend });
    const best = topKRows(scores, rows.kvHeads, current, keep, { backend: this.backend });
    const out: Uint32Array[] = [];
    for (let h = 0; h < rows.kvHeads; h++) {
      const chosen = best[h]!;
      const pages = new Uint32Array(chosen.length + 1);
      pages.set(chosen);
      pages[chosen.length] = current;
      out.push(pages);
    }
    return out;
  }

  selectHead(req: HeadRequest): HeadSelection {
    const length = req.pos + 1;
    const p = this.plan(length);
    if (!p) return { kind: 'all' };
    const bounds = this.pageBounds(req.kv, req.layer, length);
    const all = bounds.view(p.current);
    const W = all.headDim;
    const one: KvCacheView = { ...all, k: bounds.rows.subarray(req.kvHead * all.headStride, req.kvHead * all.headStride + p.current * W), kvHeads: 1 };
    const heads = req.queries.length / req.kv.headDim;
    return { kind: 'pages', pages: this.choose(req.queries, heads, bounds, one, p.current, p.keep)[0]!, pageSize: this.pageSize };
  }

  /** One kernel call scores every head's pages. */
  override selectLayer(layer: number, q: Float32Array, heads: number, kv: KvCacheView, pos: number): KvSelection {
    const length = pos + 1;
    const p = this.plan(length);
    if (!p) return { kind: 'all' };
    const bounds = this.pageBounds(kv, layer, length);
    const lists = this.choose(q, heads, bounds, bounds.view(p.current), p.current, p.keep);
    const offsets = new Uint32Array(kv.kvHeads + 1);
    lists.forEach((l, h) => (offsets[h + 1] = offsets[h]! + l.length));
    const items = new Uint32Array(offsets[kv.kvHeads]!);
    lists.forEach((l, h) => items.set(l, offsets[h]!));
    return { kind: 'pages', offsets, items, pageSize: this.pageSize };
  }
}
