/**
 * Causal attention of query rows against a KV cache, one query position at a time:
 * decodeAttention is the step the decoding loop runs per token (and prefill runs per
 * prompt position, after the whole prompt's keys are in the cache). Grouped-query
 * attention: query head h reads kv head floor(h / (heads / kvHeads)).
 *
 * Sparse attention plugs in through an AttentionPolicy: it chooses which cached key
 * positions a head reads; the default (no policy) reads all of 0..pos.
 */
import type { KvCacheView, KvSelection } from '../attention/contract';
import { planBlockSparse, runBlockSparseAsync } from '../attention/block_sparse';
import { attentionDecode, attentionDecodeAsync } from '../attention/ops';
import { kvViewOfCache, type PrefillPattern } from '../attention/policy';
import { checkBackendChoice, selectBackend } from '../backend/select';
import type { BackendChoice } from '../backend/types';
import { SparsennError } from '../errors';
import type { KvCache } from '../generate/kv_cache';

export interface KeySelection {
  layer: number;
  /** The kv head whose keys are read (query heads of one GQA group share the selection). */
  kvHead: number;
  /** Position of the query; keys 0..pos are visible. */
  pos: number;
  /** The group's query vectors: [heads / kvHeads, headDim], after RoPE. */
  queries: Float32Array;
  cache: KvCache;
}

export interface AttentionPolicy {
  /** Key positions to read, ascending, each in [0, pos]; null means all of 0..pos. */
  selectKeys(sel: KeySelection): ArrayLike<number> | null;
  /** Present on bounded-memory policies (StreamingLLM with eviction): how each sequence's cache makes room. */
  readonly eviction?: CacheEviction;
}

/**
 * How a bounded-memory policy keeps a sequence's cache small. Before a forward pass appends
 * `incoming` tokens to a cache holding `length`, the model asks `plan` and, given a plan, drops
 * cached tokens [sinks, from) (KvCache.evictMiddle), re-encoding key positions (RoPE: the sinks)
 * so that distances between cached tokens are their slot distances.
 */
export interface CacheEviction {
  plan(length: number, incoming: number): { sinks: number; from: number } | null;
  /** Most tokens the cache holds once `incoming` tokens are appended (to size caches up front). */
  bound(incoming: number): number;
}

export interface AttentionShape {
  heads: number;
  kvHeads: number;
  headDim: number;
}

/**
 * out[outOffset ..] = attention of the query row q[qOffset .. + heads·headDim] at position pos
 * over the cached keys/values of `layer`.
 */
export function decodeAttention(
  q: Float32Array,
  qOffset: number,
  cache: KvCache,
  layer: number,
  pos: number,
  shape: AttentionShape,
  out: Float32Array,
  outOffset: number,
  policy?: AttentionPolicy,
): void {
  const { heads, kvHeads, headDim } = shape;
  const group = heads / kvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const keys = cache.keys[layer]!;
  const values = cache.values[layer]!;
  const headStride = cache.capacity * headDim;
  const scores = new Float32Array(pos + 1);
  for (let kh = 0; kh < kvHeads; kh++) {
    let selected: ArrayLike<number> | null = null;
    if (policy) {
      const qs = q.subarray(qOffset + kh * group * headDim, qOffset + (kh + 1) * group * headDim);
      selected = policy.selectKeys({ layer, kvHead: kh, pos, queries: qs, cache });
      if (selected) checkSelection(selected, pos);
    }
    const n = selected ? selected.length : pos + 1;
    const base = kh * headStride;
    for (let g = 0; g < group; g++) {
      const h = kh * group + g;
      const qo = qOffset + h * headDim;
      let max = -Infinity;
      for (let j = 0; j < n; j++) {
        const ko = base + (selected ? selected[j]! : j) * headDim;
        let s = 0;
        for (let d = 0; d < headDim; d++) s += q[qo + d]! * keys[ko + d]!;
        s *= scale;
        scores[j] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let j = 0; j < n; j++) {
        const e = Math.exp(scores[j]! - max);
        scores[j] = e;
        sum += e;
      }
      const inv = 1 / sum;
      const oo = outOffset + h * headDim;
      out.fill(0, oo, oo + headDim);
      for (let j = 0; j < n; j++) {
        const w = scores[j]! * inv;
        const vo = base + (selected ? selected[j]! : j) * headDim;
        for (let d = 0; d < headDim; d++) out[oo + d]! += w * values[vo + d]!;
      }
    }
  }
}

function checkSelection(sel: ArrayLike<number>, pos: number): void {
  if (sel.length === 0) throw new SparsennError('ERR_ARG', 'attention policy selected no keys');
  for (let j = 0; j < sel.length; j++) {
    const t = sel[j]!;
    if (!Number.isInteger(t) || t < 0 || t > pos)
      throw new SparsennError('ERR_ARG', `attention policy selected key ${t}, outside [0, ${pos}]`);
  }
}

/** A policy that can also hand the kernel a whole layer's selection at once (lib/attention policies). */
interface LayerSelectingPolicy extends AttentionPolicy {
  selectLayer(layer: number, q: Float32Array, heads: number, kv: KvCacheView, pos: number, sequence?: KvCache): KvSelection;
  decodeLayer?(layer: number, q: Float32Array, heads: number, kv: KvCacheView, pos: number, scale: number, out: Float32Array, backend?: BackendChoice): boolean;
}

function selectsLayers(p: AttentionPolicy | undefined): p is LayerSelectingPolicy {
  return typeof (p as { selectLayer?: unknown } | undefined)?.selectLayer === 'function';
}

const ALL: KvSelection = { kind: 'all' };

/** Longest stretch of synchronous per-row attention before a prefill yields to the event loop. */
const SLICE_MS = 4;

function prefillPatternOf(policy: AttentionPolicy, layer: number, T: number, pos0: number, shape: AttentionShape): PrefillPattern | null {
  const p = policy as { prefillPattern?: (layer: number, T: number, pos0: number, heads: number, kvHeads: number) => PrefillPattern | null };
  return typeof p.prefillPattern === 'function' ? p.prefillPattern(layer, T, pos0, shape.heads, shape.kvHeads) : null;
}

/**
 * Attention of every new row of a forward pass. With no policy, or a lib/attention policy,
 * each row runs through the backend's attention kernel (native on cpu); a plain
 * selectKeys-only policy runs through decodeAttention above.
 */
export function attendRows(
  q: Float32Array,
  rows: readonly { cache: KvCache; pos: number }[],
  layer: number,
  shape: AttentionShape,
  out: Float32Array,
  policy: AttentionPolicy | undefined,
  backend: BackendChoice | undefined,
): void {
  const width = shape.heads * shape.headDim;
  const scale = 1 / Math.sqrt(shape.headDim);
  const kernel = policy === undefined || selectsLayers(policy);
  for (let r = 0; r < rows.length; r++) {
    const { cache, pos } = rows[r]!;
    if (!kernel) {
      decodeAttention(q, r * width, cache, layer, pos, shape, out, r * width, policy);
      continue;
    }
    const qr = q.subarray(r * width, (r + 1) * width);
    const outRow = out.subarray(r * width, (r + 1) * width);
    const kv = kvViewOfCache(cache, layer, pos + 1);
    if (policy?.decodeLayer?.(layer, qr, shape.heads, kv, pos, scale, outRow, backend)) continue;
    const selection = policy ? policy.selectLayer(layer, qr, shape.heads, kv, pos, cache) : ALL;
    attentionDecode({ q: qr, heads: shape.heads, kv, selection, scale, out: outRow }, { backend });
  }
}

/** Consecutive new rows of one sequence: rows [row, row + count) are positions pos0 .. pos0 + count − 1. */
export interface RowSpan {
  cache: KvCache;
  pos0: number;
  row: number;
  count: number;
}

/**
 * Attention of every new row. Full attention (no policy) runs each sequence's rows as one
 * causal flash-style kernel call off the main thread (a single decode row: the decode kernel,
 * also off the main thread); with a policy, rows go one by one through attendRows (each query
 * position asks the policy for its keys).
 */
export async function attendSpans(
  q: Float32Array,
  spans: readonly RowSpan[],
  layer: number,
  shape: AttentionShape,
  out: Float32Array,
  policy: AttentionPolicy | undefined,
  backend: BackendChoice | undefined,
): Promise<void> {
  const width = shape.heads * shape.headDim;
  // The js backend's flash-style reference kernel is written for clarity; the plain loop
  // above (decodeAttention) is the faster pure-JS path.
  const jsOnly = policy === undefined && selectBackend(checkBackendChoice(backend)).name === 'js';
  if (jsOnly) {
    for (const s of spans)
      for (let i = 0; i < s.count; i++)
        decodeAttention(q, (s.row + i) * width, s.cache, layer, s.pos0 + i, shape, out, (s.row + i) * width);
    return;
  }
  if (policy !== undefined) {
    for (const s of spans) {
      // A policy that offers a block pattern for prefill runs the whole span as one kernel call.
      const pp = prefillPatternOf(policy, layer, s.count, s.pos0, shape);
      if (pp) {
        const plan = planBlockSparse({ T: s.count, pos0: s.pos0, heads: shape.heads, blockSize: pp.blockSize, pattern: pp.pattern });
        await runBlockSparseAsync(
          plan,
          {
            q: q.subarray(s.row * width, (s.row + s.count) * width),
            kv: kvViewOfCache(s.cache, layer, s.pos0 + s.count),
            out: out.subarray(s.row * width, (s.row + s.count) * width),
          },
          { backend },
        );
        continue;
      }
      // Rows one by one (each asks the policy), synchronously; a long prompt yields to the event
      // loop every few milliseconds so a server stays responsive during a sparse prefill.
      let sliceStart = performance.now();
      for (let i = 0; i < s.count; i++) {
        const r = s.row + i;
        attendRows(q.subarray(r * width, (r + 1) * width), [{ cache: s.cache, pos: s.pos0 + i }], layer, shape, out.subarray(r * width, (r + 1) * width), policy, backend);
        if (i + 1 < s.count && performance.now() - sliceStart > SLICE_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          sliceStart = performance.now();
        }
      }
    }
    return;
  }
  const scale = 1 / Math.sqrt(shape.headDim);
  for (const s of spans) {
    if (s.count === 1) {
      // A decode step: one query row. The decode kernel splits the keys across threads (split-K);
      // the prefill kernel, built for many query rows, reads a single row's keys ~2x slower
      // (bench/decode_long.ts measures both).
      await attentionDecodeAsync(
        {
          q: q.subarray(s.row * width, (s.row + 1) * width),
          heads: shape.heads,
          kv: kvViewOfCache(s.cache, layer, s.pos0 + 1),
          selection: ALL,
          scale,
          out: out.subarray(s.row * width, (s.row + 1) * width),
        },
        { backend },
      );
      continue;
    }
    const plan = planBlockSparse({ T: s.count, pos0: s.pos0, heads: shape.heads, pattern: { kind: 'causal' } });
    await runBlockSparseAsync(
      plan,
      {
        q: q.subarray(s.row * width, (s.row + s.count) * width),
        kv: kvViewOfCache(s.cache, layer, s.pos0 + s.count),
        out: out.subarray(s.row * width, (s.row + s.count) * width),
      },
      { backend },
    );
  }
}
