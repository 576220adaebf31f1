/**
 * StreamingLLM (Xiao et al., 2023): keep the first `sinks` tokens (attention sinks, which soak up
 * attention mass that softmax must put somewhere) and the `window` most recent tokens.
 *
 * With eviction (`evictStreaming`), the cache physically keeps only sinks + window, so memory is
 * bounded; the paper then assigns positions *within the cache* (the i-th cached token has
 * position i), which requires caching keys before RoPE and rotating them at read time. Without
 * eviction (the selection alone), original positions are kept and the result is exactly
 * attention over sinks + window.
 */
import { SparsePolicy, type HeadRequest, type HeadSelection } from './policy';
import { SparsennError } from '../errors';

export interface StreamingOptions {
  /** Initial tokens always kept (default 4). */
  sinks?: number;
  /** Most recent tokens kept, including the current one (default 1020). */
  window?: number;
}

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

  constructor(o: StreamingOptions = {}) {
    super();
    this.sinks = o.sinks ?? 4;
    this.window = o.window ?? 1020;
    if (!Number.isSafeInteger(this.sinks) || this.sinks < 0) throw new SparsennError('ERR_ARG', 'streaming: sinks must be an integer >= 0');
    if (!Number.isSafeInteger(this.window) || this.window < 1) throw new SparsennError('ERR_ARG', 'streaming: window must be an integer >= 1');
  }

  selectHead(req: HeadRequest): HeadSelection {
    return sinkWindowSelection(req.pos + 1, this.sinks, this.window);
  }
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
