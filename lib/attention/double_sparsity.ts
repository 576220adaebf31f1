/**
 * Double Sparsity (Yang et al., 2024): token sparsity guided by channel sparsity. Offline, a few
 * "label" channels per head are chosen from calibration data (the channels where q_c·k_c carries
 * most of q·k). At decode time a small label cache holds only those channels of every key;
 * approximate scores q[channels]·label[t] pick the top `budget` tokens, and exact attention runs
 * over them. The newest token is always kept.
 *
 * GQA: the group shares one selection, ranked by the largest approximate score over the group.
 */
import { SparsennError } from '../errors';
import type { KvCacheView } from './contract';
import { readRow, SparsePolicy, topK, type HeadRequest, type HeadSelection } from './policy';

export interface DoubleSparsityOptions {
  /** Tokens read per head per step. */
  budget: number;
  /**
   * Label channels from calibration: channels[layer][kvHead] lists channel indices. When a head
   * has none, the `labelChannels` channels with the largest mean |k_c| over its cache are used
   * (an online stand-in for calibration).
   */
  channels?: ReadonlyArray<ReadonlyArray<ArrayLike<number>>>;
  /** Label channels per head when none are given (default headDim / 8, at least 1). */
  labelChannels?: number;
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

/** The label cache of one head: the label channels of every cached key, built incrementally. */
class LabelCache {
  labels = new Float32Array(0);
  filled = 0;
  constructor(readonly channels: Uint32Array) {}

  update(kv: KvCacheView, h: number, length: number): void {
    if (length < this.filled) this.filled = 0;
    const r = this.channels.length;
    if (this.labels.length < length * r) {
      const b = new Float32Array(Math.max(length, 2 * (this.labels.length / r)) * r);
      b.set(this.labels);
      this.labels = b;
    }
    const row = new Float32Array(kv.headDim);
    for (let t = this.filled; t < length; t++) {
      readRow(kv, 'k', h, t, row);
      for (let c = 0; c < r; c++) this.labels[t * r + c] = row[this.channels[c]!]!;
    }
    this.filled = length;
  }
}

export class DoubleSparsityPolicy extends SparsePolicy {
  readonly name = 'doubleSparsity';
  readonly budget: number;
  private readonly channels: DoubleSparsityOptions['channels'];
  private readonly labelChannels: number | undefined;
  private caches = new WeakMap<object, Map<string, LabelCache>>();

  constructor(o: DoubleSparsityOptions) {
    super();
    this.budget = o.budget;
    this.channels = o.channels;
    this.labelChannels = o.labelChannels;
    if (!Number.isSafeInteger(this.budget) || this.budget < 1)
      throw new SparsennError('ERR_ARG', 'doubleSparsity: budget must be an integer >= 1');
  }

  private channelsFor(kv: KvCacheView, layer: number, h: number, length: number): Uint32Array {
    const given = this.channels?.[layer]?.[h];
    if (given && given.length > 0) {
      const c = Uint32Array.from(given);
      if (c.some((x) => x >= kv.headDim)) throw new SparsennError('ERR_ARG', `doubleSparsity: a label channel of layer ${layer} head ${h} is >= headDim`);
      return c;
    }
    const r = this.labelChannels ?? Math.max(1, Math.floor(kv.headDim / 8));
    const mean = new Float64Array(kv.headDim);
    const row = new Float32Array(kv.headDim);
    for (let t = 0; t < length; t++) {
      readRow(kv, 'k', h, t, row);
      for (let d = 0; d < kv.headDim; d++) mean[d]! += Math.abs(row[d]!);
    }
    return topK(mean, Math.min(r, kv.headDim));
  }

  private labelCache(kv: KvCacheView, layer: number, h: number, length: number): LabelCache {
    let m = this.caches.get(kv.k);
    if (!m) this.caches.set(kv.k, (m = new Map()));
    const key = `${layer}:${h}`;
    let c = m.get(key);
    if (!c) m.set(key, (c = new LabelCache(this.channelsFor(kv, layer, h, length))));
    c.update(kv, h, length);
    return c;
  }

  selectHead(req: HeadRequest): HeadSelection {
    const length = req.pos + 1;
    if (this.budget >= length) return { kind: 'all' };
    const cache = this.labelCache(req.kv, req.layer, req.kvHead, length);
    const ch = cache.channels;
    const r = ch.length;
    const D = req.kv.headDim;
    const group = req.queries.length / D;
    const scores = new Float32Array(length - 1); // the newest token is always read
    scores.fill(-Infinity);
    for (let g = 0; g < group; g++) {
      const qc = Float32Array.from(ch, (c) => req.queries[g * D + c]!);
      for (let t = 0; t < length - 1; t++) {
        let s = 0;
        for (let c = 0; c < r; c++) s += qc[c]! * cache.labels[t * r + c]!;
        if (s > scores[t]!) scores[t] = s;
      }
    }
    const chosen = topK(scores, this.budget - 1);
    const tokens = new Uint32Array(chosen.length + 1);
    tokens.set(chosen);
    tokens[chosen.length] = length - 1;
    return { kind: 'indices', tokens };
  }
}
