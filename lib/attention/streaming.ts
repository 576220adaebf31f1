/**
 * StreamingLLM (Xiao et al., 2023): keep the first `sinks` tokens (attention sinks, which soak up
 * attention mass that softmax must put somewhere) and the `window` most recent tokens.
 *
 * Without eviction the policy is a selection: the cache keeps every token at its original
 * position and each query reads sinks + window; memory grows with the sequence.
 *
 * With `evict: true` memory is bounded, as in the paper: before new tokens are appended the cache
 * drops its middle, keeping the sinks and the newest window − 1 tokens, so a decode step reads
 * exactly sinks + window. Positions are assigned within the cache: the paper caches keys before
 * RoPE and rotates them by their cache slot at every step, so the query sees token j at distance
 * (its slot − j) and distances never pass sinks + window, whatever the sequence length (it can
 * run past the context length). RoPE depends only on distances, so we keep keys rotated, encode
 * every token at slot + evicted, and at each eviction re-rotate only the sinks (from copies kept
 * before the first eviction) to sit right before the window: the same attention scores (tested to
 * 1e-5) for O(sinks) work instead of rotating the whole window every step. `evictBatch` > 1
 * drops that many tokens at once (the sink-to-query distance then drifts by up to evictBatch − 1,
 * and the cache holds at most sinks + window + evictBatch − 1 tokens).
 * A prompt longer than the window is prefilled in one pass with original positions (each row
 * reads its own sinks + window) and evicted before the first decode step.
 *
 * Prefill: by default each prompt row asks for its own sinks + window (exact, one decode-kernel
 * call per row). With `prefill: 'blocks'` a prompt runs as one block-sparse causal kernel call
 * with sink + local blocks (LServe's streaming heads): each row then reads whole 64-token blocks
 * covering its sinks and window, a superset of its exact selection (up to 2 blocks more).
 */
import type { CacheEviction } from '../nn/attention';
import { SparsePolicy, type HeadRequest, type HeadSelection, type PrefillPattern } from './policy';
import { SparsennError } from '../errors';

export interface StreamingOptions {
  /** Initial tokens always kept (default 4). */
  sinks?: number;
  /** Most recent tokens kept, including the current one (default 1020). */
  window?: number;
  /** Evict the middle of the cache (bounded memory, positions within the cache); default false. */
  evict?: boolean;
  /** With evict: tokens dropped per eviction (default 1, the paper's rolling cache). */
  evictBatch?: number;
  /** Prompt rows one by one with the exact selection ('rows', default) or as one block-sparse call ('blocks'). */
  prefill?: 'rows' | 'blocks';
}

/** Block size of the 'blocks' prefill (the block-sparse kernel's default tile). */
export const STREAMING_PREFILL_BLOCK = 64;

export function streamingRanges(length: number, sinks: number, window: number): number[] {
  const s = Math.min(sinks, length);
  const w0 = Math.max(s, length - window);
  return w0 > s ? [0, s, w0, length] : [0, length];
}

/** Sinks + window as a selection; 'all' when together they cover the cache. */
export function sinkWindowSelection(length: number, sinks: number, window: number): HeadSelection {
  const ranges = streamingRanges(length, sinks, window);
  return ranges.length === 2 ? { kind: 'all' } : { kind: 'ranges', ranges };
}

export class StreamingPolicy extends SparsePolicy {
  readonly name = 'streaming';
  readonly sinks: number;
  readonly window: number;
  readonly eviction?: CacheEviction;
  readonly prefill: 'rows' | 'blocks';

  constructor(o: StreamingOptions = {}) {
    super();
    this.sinks = o.sinks ?? 4;
    this.window = o.window ?? 1020;
    if (!Number.isSafeInteger(this.sinks) || this.sinks < 0) throw new SparsennError('ERR_ARG', 'streaming: sinks must be an integer >= 0');
    if (!Number.isSafeInteger(this.window) || this.window < 1) throw new SparsennError('ERR_ARG', 'streaming: window must be an integer >= 1');
    if (o.evict !== undefined && typeof o.evict !== 'boolean') throw new SparsennError('ERR_ARG', 'streaming: evict must be a boolean');
    const batch = o.evictBatch ?? 1;
    if (!Number.isSafeInteger(batch) || batch < 1) throw new SparsennError('ERR_ARG', 'streaming: evictBatch must be an integer >= 1');
    if (o.evictBatch !== undefined && !o.evict) throw new SparsennError('ERR_ARG', 'streaming: evictBatch needs evict: true');
    if (o.evict) this.eviction = streamingEviction(this.sinks, this.window, batch);
    this.prefill = o.prefill ?? 'rows';
    if (this.prefill !== 'rows' && this.prefill !== 'blocks') throw new SparsennError('ERR_ARG', "streaming: prefill must be 'rows' or 'blocks'");
  }

  /**
   * Sink blocks covering the sinks, and local blocks reaching back from each query block's first
   * row far enough to cover the window of every row in it: whole blocks from the one holding
   * (first row − window + 1) on.
   */
  prefillPattern(_layer: number, T: number): PrefillPattern | null {
    if (this.prefill !== 'blocks' || T < 2) return null;
    const b = STREAMING_PREFILL_BLOCK;
    return {
      pattern: { kind: 'local+sink', sinkBlocks: Math.ceil(this.sinks / b), localBlocks: Math.ceil((this.window - 1) / b) + 1 },
      blockSize: b,
    };
  }

  selectHead(req: HeadRequest): HeadSelection {
    return sinkWindowSelection(req.pos + 1, this.sinks, this.window);
  }
}

/**
 * The rolling cache: when `incoming` new tokens would take the cache past sinks + window +
 * batch − 1 tokens, keep the sinks and the newest window − 1 tokens (each new row then still finds
 * its whole window: the older rows of a long prompt chunk are dropped only after it).
 */
export function streamingEviction(sinks: number, window: number, batch: number): CacheEviction {
  const cap = sinks + window + batch - 1;
  return {
    plan(length: number, incoming: number) {
      if (length + incoming <= cap) return null;
      const from = length - (window - 1);
      return from > sinks ? { sinks, from } : null;
    },
    bound(incoming: number) {
      return Math.max(cap, sinks + window - 1 + incoming);
    },
  };
}

/**
 * Evicts the middle of a head-major cache layer in place: tokens [sinks, length - window) are
 * dropped and the window slides down to follow the sinks. Returns the new length. Use it when the
 * cache is full; afterwards token i of the cache has position i (the paper's rolling cache).
 */
export function evictStreaming(
  k: Float32Array | Uint16Array,
  v: Float32Array | Uint16Array,
  kvHeads: number,
  headStride: number,
  headDim: number,
  length: number,
  sinks: number,
  window: number,
): number {
  if (length <= sinks + window) return length;
  const from = length - window;
  for (let h = 0; h < kvHeads; h++) {
    const base = h * headStride;
    k.copyWithin(base + sinks * headDim, base + from * headDim, base + length * headDim);
    v.copyWithin(base + sinks * headDim, base + from * headDim, base + length * headDim);
  }
  return sinks + window;
}
