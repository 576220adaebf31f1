/**
 * MoA, Mixture of Sparse Attention (Fu et al., 2024): every head gets its own sliding-window span,
 * elastic in the sequence length (span = alpha + beta · length), after a few sink tokens. Spans
 * are fitted offline to a budget: from calibration data we know, per head, how much attention mass
 * falls within each distance of the query; a search gives longer spans to the heads that lose the
 * most mass when shortened, until the average span meets the budget.
 */
import { SparsennError } from '../errors';
import type { KvCacheView } from './contract';
import { readRow, SparsePolicy, type HeadRequest, type HeadSelection, type PrefillPattern } from './policy';
import { sinkWindowSelection } from './streaming';

/** A head's elastic span rule: span(length) = alpha + beta · length tokens. */
export interface MoaSpan {
  alpha: number;
  beta: number;
}

export interface MoaOptions {
  /** spans[layer][kvHead]; heads without an entry read everything. */
  spans: ReadonlyArray<ReadonlyArray<MoaSpan>>;
  /** Initial tokens every head keeps (default 4). */
  sinks?: number;
  /**
   * Prompt rows one by one with the exact spans ('rows', default), or as one block-sparse call per
   * layer ('blocks': per head, sink blocks + the 64-token blocks covering every row's span, a superset).
   */
  prefill?: 'rows' | 'blocks';
}

/** Block size of the 'blocks' prefill. */
const PREFILL_BLOCK = 64;

export class MoaPolicy extends SparsePolicy {
  readonly name = 'moa';
  readonly spans: MoaOptions['spans'];
  readonly sinks: number;

  readonly prefill: 'rows' | 'blocks';

  constructor(o: MoaOptions) {
    super();
    this.spans = o.spans;
    this.sinks = o.sinks ?? 4;
    this.prefill = o.prefill ?? 'rows';
    if (this.prefill !== 'rows' && this.prefill !== 'blocks') throw new SparsennError('ERR_ARG', "moa: prefill must be 'rows' or 'blocks'");
    if (!Array.isArray(o.spans)) throw new SparsennError('ERR_ARG', 'moa: spans must be an array per layer of arrays per head');
    for (const layer of o.spans)
      for (const s of layer)
        if (!(s.alpha >= 0) || !(s.beta >= 0)) throw new SparsennError('ERR_ARG', 'moa: span alpha and beta must be >= 0');
  }

  /** Head kvHead's window at a query of position pos (null: the head reads everything). */
  private windowAt(layer: number, kvHead: number, pos: number): number | null {
    const span = this.spans[layer]?.[kvHead];
    return span ? Math.max(1, Math.round(span.alpha + span.beta * (pos + 1))) : null;
  }

  selectHead(req: HeadRequest): HeadSelection {
    const window = this.windowAt(req.layer, req.kvHead, req.pos);
    return window === null ? { kind: 'all' } : sinkWindowSelection(req.pos + 1, this.sinks, window);
  }

  /**
   * Per query head (through its KV head's span): sink blocks, and every key block from the one
   * holding the earliest window start of the query block's rows on (spans are elastic in the
   * length, so each row's start is computed; a query block holds at most 64 rows).
   */
  prefillPattern(layer: number, T: number, pos0: number, heads: number, kvHeads: number): PrefillPattern | null {
    if (this.prefill !== 'blocks' || T < 2) return null;
    const b = PREFILL_BLOCK;
    const qBlocks = Math.ceil(T / b);
    const group = heads / kvHeads;
    // firstKept[kvHead · qBlocks + qb]: the first key block a row of query block qb may need (0: all).
    const firstKept = new Int32Array(kvHeads * qBlocks);
    for (let h = 0; h < kvHeads; h++)
      for (let qb = 0; qb < qBlocks; qb++) {
        let start = Infinity;
        for (let pos = pos0 + qb * b; pos < pos0 + Math.min(T, (qb + 1) * b); pos++) {
          const w = this.windowAt(layer, h, pos);
          start = Math.min(start, w === null ? 0 : Math.max(0, pos - w + 1));
        }
        firstKept[h * qBlocks + qb] = Math.floor(start / b);
      }
    const sinkBlocks = Math.ceil(this.sinks / b);
    return {
      pattern: { kind: 'mask', perHead: true, keep: (head, qb, kb) => kb < sinkBlocks || kb >= firstKept[Math.floor(head / group) * qBlocks + qb]! },
      blockSize: b,
    };
  }
}

/**
 * Calibration profile of one head at one query: mass[d] = attention weight on the key at
 * distance d from the query (d = 0 is the query's own token), averaged over the group's heads.
 * Sum profiles over many queries of calibration text and pass them to fitMoaSpans.
 */
export function attentionDistanceProfile(queries: Float32Array, kv: KvCacheView, kvHead: number, pos: number): Float64Array {
  const D = kv.headDim;
  const group = queries.length / D;
  const length = pos + 1;
  const mass = new Float64Array(length);
  const row = new Float32Array(D);
  const keys = new Float32Array(length * D);
  for (let t = 0; t < length; t++) keys.set(readRow(kv, 'k', kvHead, t, row), t * D);
  const scores = new Float64Array(length);
  for (let g = 0; g < group; g++) {
    let max = -Infinity;
    for (let t = 0; t < length; t++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += queries[g * D + d]! * keys[t * D + d]!;
      scores[t] = s / Math.sqrt(D);
      max = Math.max(max, scores[t]!);
    }
    let sum = 0;
    for (let t = 0; t < length; t++) sum += (scores[t] = Math.exp(scores[t]! - max));
    for (let t = 0; t < length; t++) mass[pos - t]! += scores[t]! / sum / group;
  }
  return mass;
}

export interface MoaFitOptions {
  /** Average fraction of the context a head may read (0..1]. */
  density: number;
  /** Sinks each head keeps (counted as captured mass at the far end; default 4). */
  sinks?: number;
  /** Candidate fractions of the context (default 1/32 .. 1 in 16 steps). */
  candidates?: readonly number[];
}

/**
 * Fits per-head spans to a budget: profiles[layer][kvHead] are summed distance profiles (see
 * attentionDistanceProfile) over calibration queries at a context of `length` tokens. Each head
 * starts at the smallest candidate; the search repeatedly lengthens the head whose next step
 * captures the most extra attention mass per extra token, until the average span reaches
 * density · length. Returns spans as pure fractions (alpha = 0, beta = fraction).
 */
export function fitMoaSpans(profiles: ReadonlyArray<ReadonlyArray<Float64Array>>, length: number, o: MoaFitOptions): MoaSpan[][] {
  if (!(o.density > 0 && o.density <= 1)) throw new SparsennError('ERR_ARG', 'moa: density must be in (0, 1]');
  const cands = [...(o.candidates ?? Array.from({ length: 16 }, (_, i) => (i + 1) / 16).concat([1 / 32]))].sort((a, b) => a - b);
  const sinks = o.sinks ?? 4;
  // captured[h][c] = mass within the window of candidate c (plus the sink tokens at the far end).
  const heads = profiles.flatMap((layer, l) => layer.map((p, h) => ({ l, h, p })));
  const captured = heads.map(({ p }) => {
    const prefix = new Float64Array(p.length + 1);
    for (let d = 0; d < p.length; d++) prefix[d + 1] = prefix[d]! + p[d]!;
    const total = prefix[p.length]!;
    return cands.map((c) => {
      const w = Math.min(p.length, Math.max(1, Math.round(c * length)));
      const sinkMass = w + sinks >= p.length ? total - prefix[w]! : prefix[p.length]! - prefix[p.length - Math.min(sinks, p.length - w)]!;
      return prefix[w]! + sinkMass;
    });
  });
  const choice = heads.map(() => 0);
  const avgFraction = () => choice.reduce((a, c) => a + cands[c]!, 0) / heads.length;
  while (avgFraction() < o.density) {
    let best = -1;
    let bestGain = -Infinity;
    choice.forEach((c, i) => {
      if (c + 1 >= cands.length) return;
      const gain = (captured[i]![c + 1]! - captured[i]![c]!) / (cands[c + 1]! - cands[c]!);
      if (gain > bestGain) {
        bestGain = gain;
        best = i;
      }
    });
    if (best < 0) break;
    // Stop before overshooting the budget by more than one step.
    const next = choice.slice();
    next[best]! += 1;
    if (next.reduce((a, c) => a + cands[c]!, 0) / heads.length > o.density + 1e-9) break;
    choice[best] = next[best]!;
  }
  const out: MoaSpan[][] = profiles.map((layer) => layer.map(() => ({ alpha: 0, beta: 1 })));
  heads.forEach(({ l, h }, i) => (out[l]![h] = { alpha: 0, beta: cands[choice[i]!]! }));
  return out;
}
