/**
 * KV cache of one sequence: per layer, keys and values laid out [kvHeads, capacity, headDim]
 * (f32), so the keys one head reads are contiguous. Grows by doubling, up to maxCapacity
 * (the model's context length), so short requests do not pay for the full context up front.
 * A bounded-memory attention policy (StreamingLLM with eviction) drops its middle with evictMiddle.
 */
import { alignedArray } from '../backend/aligned';
import { adviseStreamedStorage } from '../backend/huge_pages';
import { SparsennError } from '../errors';

/**
 * A zeroed layer array. Decode attention streams these every step; with 4 KiB pages a head's
 * rows cross a page every few rows (a TLB walk and a prefetcher restart each), which measured
 * 12.5 vs 19.5 GB/s per core at 32K context in a one-thread harness (bench/attention.ts times the
 * KV cache with 2 MiB pages, as a serving cache asks for them), so large ones ask for 2 MiB pages.
 */
function layerArray(elements: number): Float32Array {
  // On a 64-byte line, so rows of a multiple of 64 bytes do not straddle one more line each.
  const a = alignedArray(Float32Array, elements);
  adviseStreamedStorage(a);
  return a;
}

export class KvCache {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly maxCapacity: number;
  private cap: number;
  /** Number of positions written (the next position to write). */
  length = 0;
  /** Tokens dropped by evictMiddle so far (the sequence has seen length + evicted tokens). */
  evicted = 0;
  keys: Float32Array[];
  values: Float32Array[];
  private readonly states = new WeakMap<object, unknown>();

  constructor(layers: number, kvHeads: number, headDim: number, maxCapacity: number, initialCapacity = 64) {
    this.layers = layers;
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.maxCapacity = maxCapacity;
    this.cap = Math.max(1, Math.min(initialCapacity, maxCapacity));
    this.keys = Array.from({ length: layers }, () => layerArray(kvHeads * this.cap * headDim));
    this.values = Array.from({ length: layers }, () => layerArray(kvHeads * this.cap * headDim));
  }

  get capacity(): number {
    return this.cap;
  }

  /** Makes room for positions [0, n); throws when n exceeds the context length. */
  reserve(n: number): void {
    if (n <= this.cap) return;
    if (n > this.maxCapacity)
      throw new SparsennError('ERR_ARG', `sequence of ${n} tokens exceeds the model's context length ${this.maxCapacity}`);
    let next = this.cap;
    while (next < n) next *= 2;
    next = Math.min(next, this.maxCapacity);
    const grow = (old: Float32Array): Float32Array => {
      const a = layerArray(this.kvHeads * next * this.headDim);
      const row = this.cap * this.headDim;
      for (let h = 0; h < this.kvHeads; h++) a.set(old.subarray(h * row, (h + 1) * row), h * next * this.headDim);
      return a;
    };
    this.keys = this.keys.map(grow);
    this.values = this.values.map(grow);
    this.cap = next;
  }

  /** Offset of (head, pos) inside a layer's key or value array. */
  offset(head: number, pos: number): number {
    return (head * this.cap + pos) * this.headDim;
  }

  /** Writes the keys and values of one position; k and v are [kvHeads · headDim] rows starting at src. */
  write(layer: number, pos: number, k: Float32Array, v: Float32Array, src: number): void {
    const kl = this.keys[layer]!;
    const vl = this.values[layer]!;
    const hd = this.headDim;
    for (let h = 0; h < this.kvHeads; h++) {
      const o = this.offset(h, pos);
      kl.set(k.subarray(src + h * hd, src + (h + 1) * hd), o);
      vl.set(v.subarray(src + h * hd, src + (h + 1) * hd), o);
    }
  }

  /** Bytes held. */
  get bytes(): number {
    return 2 * this.layers * this.kvHeads * this.cap * this.headDim * 4;
  }

  /**
   * Evicts tokens [sinks, from) of every layer (StreamingLLM's rolling cache): the tokens after
   * them slide down to follow the sinks. Afterwards every cached token stands at position
   * slot + evicted (models encode new tokens there too): the window keeps the positions it was
   * encoded with and the sinks move forward to sit right before it, so the distance between any
   * two cached tokens, or a token and the query, is their slot distance — exactly the paper's
   * positions within the cache (sink i at i, slot j at j, caching keys before RoPE), and only the
   * sinks are re-encoded. `rotate` re-encodes a run of `count` [headDim] key rows of one head by
   * `delta` positions (RoPE models); it is always applied to copies of the sinks kept from before
   * the first eviction, so rounding never accumulates. Without it (learned positions) tokens are
   * only dropped. Returns the number of tokens dropped.
   */
  evictMiddle(sinks: number, from: number, rotate?: (keys: Float32Array, offset: number, count: number, delta: number) => void): number {
    if (!Number.isSafeInteger(sinks) || !Number.isSafeInteger(from) || sinks < 0 || from < sinks || from > this.length)
      throw new SparsennError('ERR_ARG', `evictMiddle: need 0 <= sinks (${sinks}) <= from (${from}) <= length (${this.length})`);
    if (this.sinkKeys && this.sinkKeys.sinks !== sinks)
      throw new SparsennError('ERR_ARG', `evictMiddle: this cache keeps ${this.sinkKeys.sinks} sinks, not ${sinks}`);
    const shift = from - sinks;
    if (shift === 0) return 0;
    const hd = this.headDim;
    if (rotate && sinks > 0 && !this.sinkKeys) {
      // The sinks as first encoded (positions 0 .. sinks − 1), one [kvHeads, sinks, headDim] copy per layer.
      const rows = this.keys.map((k) => {
        const c = new Float32Array(this.kvHeads * sinks * hd);
        for (let h = 0; h < this.kvHeads; h++) c.set(k.subarray(this.offset(h, 0), this.offset(h, sinks)), h * sinks * hd);
        return c;
      });
      this.sinkKeys = { sinks, rows };
    }
    for (let l = 0; l < this.layers; l++) {
      const k = this.keys[l]!;
      const v = this.values[l]!;
      for (let h = 0; h < this.kvHeads; h++) {
        k.copyWithin(this.offset(h, sinks), this.offset(h, from), this.offset(h, this.length));
        v.copyWithin(this.offset(h, sinks), this.offset(h, from), this.offset(h, this.length));
      }
    }
    this.length -= shift;
    this.evicted += shift;
    if (rotate && this.sinkKeys)
      for (let l = 0; l < this.layers; l++) {
        const k = this.keys[l]!;
        for (let h = 0; h < this.kvHeads; h++) {
          k.set(this.sinkKeys.rows[l]!.subarray(h * sinks * hd, (h + 1) * sinks * hd), this.offset(h, 0));
          rotate(k, this.offset(h, 0), sinks, this.evicted);
        }
      }
    return shift;
  }

  /** Pristine copies of the sink keys, taken at the first eviction of a RoPE model's cache. */
  private sinkKeys: { sinks: number; rows: Float32Array[] } | null = null;

  /** Position of the token in cache slot `slot` (slot + evicted; see evictMiddle). */
  positionOf(slot: number): number {
    return slot + this.evicted;
  }

  /**
   * Per-sequence state of attention policies, keyed by the policy object: what a policy remembers
   * about one sequence (TidalDecode's chosen positions, ...) lives with that sequence's cache, so
   * sequences decoded together in one batch never see each other's state.
   */
  policyState<T>(owner: object, create: () => T): T {
    let s = this.states.get(owner) as T | undefined;
    if (s === undefined) this.states.set(owner, (s = create()));
    return s;
  }

  /**
   * Benchmark / test hook: pretends positions [0, length) were prefilled, writing deterministic
   * random non-zero keys and values (uniform in ±scale, never exactly 0) into every layer, so
   * decode can be timed at long contexts without running the prefill. What attention then reads
   * is synthetic: use it for speed, never for quality.
   */
  fillSynthetic(length: number, seed = 1, scale = 1): void {
    if (!Number.isSafeInteger(length) || length < 0) throw new SparsennError('ERR_ARG', 'fillSynthetic: length must be an integer >= 0');
    this.reserve(length);
    let x = seed >>> 0 || 1;
    // xorshift32: fast and deterministic; values in (−scale, scale) \ {0}.
    const next = () => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return ((x / 4294967296) * 2 - 1) * scale || scale * 1e-3;
    };
    for (let l = 0; l < this.layers; l++)
      for (const a of [this.keys[l]!, this.values[l]!])
        for (let h = 0; h < this.kvHeads; h++) {
          const o = this.offset(h, 0);
          for (let i = 0; i < length * this.headDim; i++) a[o + i] = next();
        }
    this.length = length;
  }
}
