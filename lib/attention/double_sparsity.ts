/**
 * Double Sparsity (Yang et al., 2024): token sparsity guided by channel sparsity. Offline, a few
 * "label" channels per head are chosen from calibration data (the channels where q_c·k_c carries
 * most of q·k). At decode time a small label cache holds only those channels of every key;
 * approximate scores q[channels]·label[t] pick the top `budget` tokens, and exact attention runs
 * over them. The newest token is always kept.
 *
 * GQA: the group shares one selection, ranked by the largest approximate score over the group.
 *
 * The label cache holds 4-bit codes with a scale per token, as the paper's 4-bit label cache (r =
 * headDim/8 channels: r/2 + 4 bytes, 1/42.7 of the token's f16 key and value at head dim 128; or
 * int8 codes with `labelBits: 8`, r + 4 bytes), and one fused call per layer scores every head's
 * tokens in exact integers (the query's label channels rounded to signed 8-bit codes) and picks
 * their top (ops.labelSelect; selection_contract.ts has the layout). The selection streams the whole
 * label cache every step, so its bytes are most of the policy's cost beside the tokens it reads.
 */
import type { BackendChoice } from '../backend/types';
import { SparsennError } from '../errors';
import type { KvCacheView, KvSelection } from './contract';
import { labelCacheUpdate, labelSelect, labelSelectDecode } from './ops';
import { checkDecodePolicyPrefill, decodePolicyPrefillPattern, sameBackend, readRow, SparsePolicy, topK, type DecodePolicyPrefill, type HeadRequest, type HeadSelection, type PrefillPattern } from './policy';
import { codeColumns, grownScaledRows, type LabelRows } from './selection_contract';
import { SelectionScratch } from './selection_scratch';

export interface DoubleSparsityOptions {
  /** Tokens read per head per step. */
  budget: number;
  /**
   * Label channels from calibration: channels[layer][kvHead] lists channel indices (the same
   * count for every head of a layer). When a layer has none, the `labelChannels` channels with the
   * largest mean |k_c| over (up to 4096 evenly spaced tokens of) each head's cache are used: an
   * online stand-in for calibration.
   */
  channels?: ReadonlyArray<ReadonlyArray<ArrayLike<number>>>;
  /** Label channels per head when none are given (default headDim / 8, at least 1). */
  labelChannels?: number;
  /** Bits per label code: 4 (default, the paper's label cache) or 8 (finer scores, twice the label bytes). */
  labelBits?: 4 | 8;
  /** Backend for the label cache and the approximate scores (default 'auto'). */
  backend?: BackendChoice;
  /** 'dense' prefills the prompt with full causal attention, as the paper does; 'rows' (default) selects per prompt row (lib/attention/policy.ts). */
  prefill?: DecodePolicyPrefill;
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
 * The label cache of one layer: each token's label channels as 4-bit or int8 codes and a scale (the scores
 * it feeds are approximate by design), built incrementally as tokens arrive, plus the layer's
 * reusable selection buffers.
 */
class LabelCache {
  labels: LabelRows;
  filled = 0;
  readonly scratch = new SelectionScratch();

  constructor(
    /** [kvHeads, r]: head h's label channels at channels[h·r ..]. */
    readonly channels: Uint32Array,
    readonly kvHeads: number,
    r: number,
    bits: 4 | 8,
    private readonly backend: BackendChoice,
  ) {
    this.labels = { data: new Int8Array(0), scales: new Float32Array(0), kvHeads, capacity: 0, width: r, bits };
  }

  update(kv: KvCacheView, length: number): void {
    if (length < this.filled) this.filled = 0; // the cache was reset: start over
    if (length > this.labels.capacity) this.grow(length);
    if (length > this.filled)
      labelCacheUpdate({ kv: { ...kv, length }, channels: this.channels, labels: this.labels, begin: this.filled, end: length }, { backend: this.backend });
    this.filled = length;
  }

  private grow(tokens: number): void {
    this.labels = grownScaledRows(this.labels, tokens, 256, this.filled);
  }
}

/** Tokens sampled for the online channel choice: enough for a stable mean, cheap at any length. */
const CHANNEL_SAMPLE = 4096;

export class DoubleSparsityPolicy extends SparsePolicy {
  readonly name = 'doubleSparsity';
  readonly budget: number;
  private readonly channels: DoubleSparsityOptions['channels'];
  private readonly labelChannels: number | undefined;
  readonly labelBits: 4 | 8;
  private readonly backend: BackendChoice;
  readonly prefill: DecodePolicyPrefill;
  private caches = new WeakMap<object, Map<number, LabelCache>>();

  constructor(o: DoubleSparsityOptions) {
    super();
    this.budget = o.budget;
    this.channels = o.channels;
    this.labelChannels = o.labelChannels;
    this.labelBits = o.labelBits ?? 4;
    if (this.labelBits !== 4 && this.labelBits !== 8) throw new SparsennError('ERR_ARG', `doubleSparsity: labelBits must be 4 or 8, got ${String(o.labelBits)}`);
    this.prefill = checkDecodePolicyPrefill(o.prefill, 'doubleSparsity');
    this.backend = o.backend ?? 'auto';
    if (!Number.isSafeInteger(this.budget) || this.budget < 1)
      throw new SparsennError('ERR_ARG', 'doubleSparsity: budget must be an integer >= 1');
  }

  /** A 'dense' prefill runs the prompt as one causal kernel call; 'rows' asks selectLayer per row. */
  prefillPattern(_layer: number, T: number): PrefillPattern | null {
    return decodePolicyPrefillPattern(this.prefill, T);
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
    const step = Math.max(1, Math.floor(length / CHANNEL_SAMPLE));
    return Array.from({ length: kv.kvHeads }, (_, h) => {
      const mean = new Float64Array(kv.headDim);
      for (let t = 0; t < length; t += step) {
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
    if (!c) {
      const perHead = this.channelsFor(kv, layer, length);
      const r = perHead[0]!.length;
      const flat = new Uint32Array(kv.kvHeads * r);
      perHead.forEach((ch, h) => flat.set(ch, h * r));
      m.set(layer, (c = new LabelCache(flat, kv.kvHeads, r, this.labelBits, this.backend)));
    }
    c.update(kv, length);
    return c;
  }

  /** One head's tokens: the budget − 1 best approximate scores among the older tokens, then the newest. */
  selectHead(req: HeadRequest): HeadSelection {
    const length = req.pos + 1;
    if (this.budget >= length) return { kind: 'all' };
    const cache = this.labelCache(req.kv, req.layer, length);
    const all = cache.labels;
    const r = all.width;
    const size = all.capacity * codeColumns(all);
    const labels: LabelRows = {
      ...all,
      data: all.data.subarray(req.kvHead * size, (req.kvHead + 1) * size),
      scales: all.scales.subarray(req.kvHead * all.capacity, (req.kvHead + 1) * all.capacity),
      kvHeads: 1,
    };
    const D = req.kv.headDim;
    const n = length - 1;
    const tokens = new Uint32Array(this.budget);
    labelSelect(
      {
        q: req.queries, heads: req.queries.length / D, headDim: D, channels: cache.channels.subarray(req.kvHead * r, (req.kvHead + 1) * r),
        labels, n, k: this.budget - 1, items: tokens,
      },
      { backend: this.backend },
    );
    return { kind: 'indices', tokens };
  }

  /**
   * The layer's selection and its decode attention in one call (labelSelectDecode), into out.
   * false (nothing written) while the budget covers the whole cache, or when the caller's
   * attention backend is not the one this policy selects with (then selectLayer + attentionDecode
   * keep each part where it was asked for).
   */
  decodeLayer(layer: number, q: Float32Array, heads: number, kv: KvCacheView, pos: number, scale: number, out: Float32Array, backend?: BackendChoice): boolean {
    const length = pos + 1;
    if (this.budget >= length) return false;
    if (!sameBackend(backend, this.backend)) return false;
    const cache = this.labelCache(kv, layer, length);
    const { scratch } = cache;
    const k = this.budget - 1;
    scratch.reserve(kv.kvHeads, k + 1);
    // One plain literal (a spread would give the args a shape of their own, which costs the
    // validation's property lookups ~40 us a call from cold caches).
    const items = scratch.items;
    labelSelectDecode({ q, heads, headDim: kv.headDim, channels: cache.channels, labels: cache.labels, n: length - 1, k, items, kv, scale, out }, { backend: this.backend });
    return true;
  }

  /** Every KV head of a layer in one call, into reused buffers. */
  override selectLayer(layer: number, q: Float32Array, heads: number, kv: KvCacheView, pos: number): KvSelection {
    const length = pos + 1;
    if (this.budget >= length) return { kind: 'all' };
    const cache = this.labelCache(kv, layer, length);
    const { scratch } = cache;
    const n = length - 1;
    const k = this.budget - 1;
    scratch.reserve(kv.kvHeads, k + 1);
    labelSelect({ q, heads, headDim: kv.headDim, channels: cache.channels, labels: cache.labels, n, k, items: scratch.items }, { backend: this.backend });
    return scratch.selection(kv.kvHeads, k + 1, (offsets, items) => ({ kind: 'indices', offsets, items }));
  }
}
