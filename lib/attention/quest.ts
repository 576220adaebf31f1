/**
 * Quest (Tang et al., 2024): query-aware page selection. The cache is cut into pages of
 * `pageSize` tokens; for each page we keep the element-wise min and max of its keys. For a query
 * q, Σ_d max(q_d·min_d, q_d·max_d) is an upper bound of q·k for every key k in the page, so pages
 * with a high bound are the only ones that can hold high-attention keys. Read the best pages
 * worth `budget` tokens, always including the current (newest, possibly partial) page.
 *
 * GQA: the group's query heads share one selection, scored by the largest bound over the group
 * (a page is read if any head of the group may need it).
 */
import { SparsennError } from '../errors';
import type { KvCacheView } from './contract';
import { readRow, SparsePolicy, topK, type HeadRequest, type HeadSelection } from './policy';

export interface QuestOptions {
  /** Tokens read per head per step, current page included. */
  budget: number;
  /** Tokens per page (default 16). */
  pageSize?: number;
}

/** Per-page element-wise key min / max of one head, built incrementally as pages fill. */
export class PageBounds {
  min = new Float32Array(0);
  max = new Float32Array(0);
  /** Pages whose bounds are final. */
  complete = 0;

  constructor(
    readonly pageSize: number,
    readonly headDim: number,
  ) {}

  /** Brings complete pages up to date with a cache of `length` tokens. */
  update(kv: KvCacheView, h: number, length: number): void {
    const full = Math.floor(length / this.pageSize);
    if (full < this.complete) this.complete = 0; // the cache was reset: start over
    const D = this.headDim;
    if (this.min.length < full * D) {
      const grow = (a: Float32Array) => {
        const b = new Float32Array(Math.max(full, 2 * (a.length / D)) * D);
        b.set(a);
        return b;
      };
      this.min = grow(this.min);
      this.max = grow(this.max);
    }
    const row = new Float32Array(D);
    for (let p = this.complete; p < full; p++) {
      const lo = this.min.subarray(p * D, (p + 1) * D).fill(Infinity);
      const hi = this.max.subarray(p * D, (p + 1) * D).fill(-Infinity);
      for (let t = p * this.pageSize; t < (p + 1) * this.pageSize; t++) {
        readRow(kv, 'k', h, t, row);
        for (let d = 0; d < D; d++) {
          if (row[d]! < lo[d]!) lo[d] = row[d]!;
          if (row[d]! > hi[d]!) hi[d] = row[d]!;
        }
      }
    }
    this.complete = full;
  }

  /** Upper bound of q·k over page p's keys. */
  bound(q: Float32Array, qOffset: number, p: number): number {
    const D = this.headDim;
    let s = 0;
    for (let d = 0; d < D; d++) {
      const qd = q[qOffset + d]!;
      const a = qd * this.min[p * D + d]!;
      const b = qd * this.max[p * D + d]!;
      s += a > b ? a : b;
    }
    return s;
  }
}

export class QuestPolicy extends SparsePolicy {
  readonly name = 'quest';
  readonly budget: number;
  readonly pageSize: number;
  /** Bounds per cache buffer (a new sequence's cache gets fresh bounds) and head. */
  private bounds = new WeakMap<object, Map<string, PageBounds>>();

  constructor(o: QuestOptions) {
    super();
    this.budget = o.budget;
    this.pageSize = o.pageSize ?? 16;
    if (!Number.isSafeInteger(this.budget) || this.budget < 1) throw new SparsennError('ERR_ARG', 'quest: budget must be an integer >= 1');
    if (!Number.isSafeInteger(this.pageSize) || this.pageSize < 1) throw new SparsennError('ERR_ARG', 'quest: pageSize must be an integer >= 1');
  }

  pageBounds(kv: KvCacheView, layer: number, h: number, length: number): PageBounds {
    let m = this.bounds.get(kv.k);
    if (!m) this.bounds.set(kv.k, (m = new Map()));
    const key = `${layer}:${h}`;
    let b = m.get(key);
    if (!b) m.set(key, (b = new PageBounds(this.pageSize, kv.headDim)));
    b.update(kv, h, length);
    return b;
  }

  selectHead(req: HeadRequest): HeadSelection {
    const length = req.pos + 1;
    const ps = this.pageSize;
    const pages = Math.ceil(length / ps);
    const current = pages - 1;
    // Best pages besides the current one, in whole pages, from what the current page leaves of the budget.
    const keep = Math.max(0, Math.floor((this.budget - (length - current * ps)) / ps));
    if (this.budget >= length || keep >= current) return { kind: 'all' };
    const bounds = this.pageBounds(req.kv, req.layer, req.kvHead, length);
    const D = req.kv.headDim;
    const group = req.queries.length / D;
    const scores = new Float32Array(current);
    for (let p = 0; p < current; p++) {
      let best = -Infinity;
      for (let g = 0; g < group; g++) best = Math.max(best, bounds.bound(req.queries, g * D, p));
      scores[p] = best;
    }
    const chosen = topK(scores, keep);
    const out = new Uint32Array(chosen.length + 1);
    out.set(chosen);
    out[chosen.length] = current;
    return { kind: 'pages', pages: out, pageSize: ps };
  }
}
