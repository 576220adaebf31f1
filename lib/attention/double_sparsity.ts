/**
 * Double Sparsity (Yang et al., 2024): token sparsity guided by channel sparsity. Offline, a few
 * "label" channels per head are chosen from calibration data (the channels where q_c·k_c carries
 * most of q·k). At decode time a small label cache holds only those channels of every key;
 * approximate scores q[channels]·label[t] pick the top `budget` tokens, and exact attention runs
 * over them. The newest token is always kept.
 *
 * GQA: the group shares one selection, ranked by the largest approximate score over the group.
 */
import type { BackendChoice } from '../backend/types';
import { f32ToBf16 } from '../dtype';
import { SparsennError } from '../errors';
import type { KvCacheView, KvSelection } from './contract';
import { attentionGroupScores, topKRows } from './ops';
import { readRow, SparsePolicy, topK, type HeadRequest, type HeadSelection } from './policy';

export interface DoubleSparsityOptions {
  /** Tokens read per head per step. */
  budget: number;
  /**
   * Label channels from calibration: channels[layer][kvHead] lists channel indices (the same
   * count for every head of a layer). When a layer has none, the `labelChannels` channels with the
   * largest mean |k_c| over each head's cache are used (an online stand-in for calibration).
   */
  channels?: ReadonlyArray<ReadonlyArray<ArrayLike<number>>>;
  /** Label channels per head when none are given (default headDim / 8, at least 1). */
  labelChannels?: number;
  /** Backend for the approximate scores (default 'auto'). */
  backend?: BackendChoice;
}

/**
 * Offline calibration: for one head, scores each channel by the mean of |q_c · k_c| over
 * calibration (query, key) pairs and returns the top `r` channels.
 * `queries` are [nq, D] rows, `keys` [nk, D] rows (every pair is used).
 */
export function calibrateLabelChannels(queries: Float32Array, keys: Float32Array, headDim: number, r: number): Uint32Array {
  const D = headDim;
  const nq = queries.length / D;
  const nk = keys.length / D;
  const qAbs = new Float64Array(D);
  const kAbs = new Float64Array(D);
  for (let i = 0; i < nq; i++) for (let d = 0; d < D; d++) qAbs[d]! += Math.abs(queries[i * D + d]!);
  for (let i = 0; i < nk; i++) for (let d = 0; d < D; d++) kAbs[d]! += Math.abs(keys[i * D + d]!);
  // mean over pairs of |q_c k_c| = mean|q_c| · mean|k_c|
  const importance = qAbs.map((a, d) => (a / Math.max(1, nq)) * (kAbs[d]! / Math.max(1, nk)));
  return topK(importance, Math.min(r, D));
}

/**
 * The label cache of one layer: [kvHeads, capacity, r] in bf16 (the scores it feeds are approximate
 * by design; half the bytes of f32 to read each step), built incrementally as tokens arrive.
 */
class LabelCache {
  labels = new Uint16Array(0);
  capacity = 0;
  filled = 0;
  constructor(
    readonly channels: Uint32Array[],
    readonly kvHeads: number,
  ) {}

  get width(): number {
    return this.channels[0]!.length;
  }

  update(kv: KvCacheView, length: number): void {
    if (length < this.filled) this.filled = 0;
    const r = this.width;
    if (length > this.capacity) {
      const cap = Math.max(length, 2 * this.capacity, 256);
      const b = new Uint16Array(this.kvHeads * cap * r);
      for (let h = 0; h < this.kvHeads; h++) b.set(this.labels.subarray(h * this.capacity * r, (h * this.capacity + this.filled) * r), h * cap * r);
      this.labels = b;
      this.capacity = cap;
    }
    const row = new Float32Array(kv.headDim);
    for (let h = 0; h < this.kvHeads; h++) {
      const ch = this.channels[h]!;
      for (let t = this.filled; t < length; t++) {
        readRow(kv, 'k', h, t, row);
        for (let c = 0; c < r; c++) this.labels[(h * this.capacity + t) * r + c] = f32ToBf16(row[ch[c]!]!);
      }
    }
    this.filled = length;
  }

  view(length: number): KvCacheView {
    const r = this.width;
    return { k: this.labels, v: this.labels, dtype: 'bf16', kvHeads: this.kvHeads, length, headDim: r, headStride: this.capacity * r, tokenStride: r };
  }
}

export class DoubleSparsityPolicy extends SparsePolicy {
  readonly name = 'doubleSparsity';
  readonly budget: number;
  private readonly channels: DoubleSparsityOptions['channels'];
  private readonly labelChannels: number | undefined;
  private readonly backend: BackendChoice;
  private caches = new WeakMap<object, Map<number, LabelCache>>();

  constructor(o: DoubleSparsityOptions) {
    super();
    this.budget = o.budget;
    this.channels = o.channels;
    this.labelChannels = o.labelChannels;
    this.backend = o.backend ?? 'auto';
    if (!Number.isSafeInteger(this.budget) || this.budget < 1)
      throw new SparsennError('ERR_ARG', 'doubleSparsity: budget must be an integer >= 1');
  }

  private channelsFor(kv: KvCacheView, layer: number, length: number): Uint32Array[] {
    const given = this.channels?.[layer];
    if (given && given.length > 0) {
      if (given.length !== kv.kvHeads) throw new SparsennError('ERR_ARG', `doubleSparsity: layer ${layer} needs channels for ${kv.kvHeads} heads`);
      const out = given.map((c) => Uint32Array.from(c));
      if (out.some((c) => c.length !== out[0]!.length || c.length === 0 || c.some((x) => x >= kv.headDim)))
        throw new SparsennError('ERR_ARG', `doubleSparsity: layer ${layer}: every head needs the same number (>= 1) of channels < headDim`);
      return out;
    }
    const r = Math.min(kv.headDim, this.labelChannels ?? Math.max(1, Math.floor(kv.headDim / 8)));
    const row = new Float32Array(kv.headDim);
    return Array.from({ length: kv.kvHeads }, (_, h) => {
      const mean = new Float64Array(kv.headDim);
      for (let t = 0; t < length; t++) {
        readRow(kv, 'k', h, t, row);
        for (let d = 0; d < kv.headDim; d++) mean[d]! += Math.abs(row[d]!);
      }
      return topK(mean, r);
    });
  }

  private labelCache(kv: KvCacheView, layer: number, length: number): LabelCache {
    let m = this.caches.get(kv.k);
    if (!m) this.caches.set(kv.k, (m = new Map()));
    let c = m.get(layer);
    if (!c) m.set(layer, (c = new LabelCache(this.channelsFor(kv, layer, length), kv.kvHeads)));
    c.update(kv, length);
    return c;
  }

  /** Top tokens of each head among the first `length - 1` (the newest is added to each list). */
  private choose(q: Float32Array, heads: number, cache: LabelCache, firstHead: number, kvHeads: number, length: number, D: number): Uint32Array[] {
    const r = cache.width;
    const group = heads / kvHeads;
    const qLabel = new Float32Array(heads * r);
    for (let g = 0; g < heads; g++) {
      const ch = cache.channels[firstHead + Math.floor(g / group)]!;
      for (let c = 0; c < r; c++) qLabel[g * r + c] = q[g * D + ch[c]!]!;
    }
    const n = length - 1;
    const all = cache.view(n);
    const rows: KvCacheView = kvHeads === all.kvHeads ? all : { ...all, k: cache.labels.subarray(firstHead * all.headStride), kvHeads };
    const scores = new Float32Array(kvHeads * n);
    attentionGroupScores({ q: qLabel, heads, rows, out: scores }, { backend: this.backend });
    const best = topKRows(scores, kvHeads, n, this.budget - 1, { backend: this.backend });
    const out: Uint32Array[] = [];
    for (let h = 0; h < kvHeads; h++) {
      const chosen = best[h]!;
      const tokens = new Uint32Array(chosen.length + 1);
      tokens.set(chosen);
      tokens[chosen.length] = n;
      out.push(tokens);
    }
    return out;
  }

  selectHead(req: HeadRequest): HeadSelection {
    const length = req.pos + 1;
    if (this.budget >= length) return { kind: 'all' };
    const cache = this.labelCache(req.kv, req.layer, length);
    const D = req.kv.headDim;
    const tokens = this.choose(req.queries, req.queries.length / D, cache, req.kvHead, 1, length, D)[0]!;
    return { kind: 'indices', tokens };
  }

  /** One kernel call scores every head's label cache. */
  override selectLayer(layer: number, q: Float32Array, heads: number, kv: KvCacheView, pos: number): KvSelection {
    const length = pos + 1;
    if (this.budget >= length) return { kind: 'all' };
    const cache = this.labelCache(kv, layer, length);
    const lists = this.choose(q, heads, cache, 0, kv.kvHeads, length, kv.headDim);
    const offsets = new Uint32Array(kv.kvHeads + 1);
    lists.forEach((l, h) => (offsets[h + 1] = offsets[h]! + l.length));
    const items = new Uint32Array(offsets[kv.kvHeads]!);
    lists.forEach((l, h) => items.set(l, offsets[h]!));
    return { kind: 'indices', offsets, items };
  }
}
