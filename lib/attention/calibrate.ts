/**
 * Offline calibration from real text: runs the model over calibration texts with a recording
 * policy (it reads every layer's queries and cache and selects everything, so the pass is the
 * dense model) and derives what the papers calibrate:
 *  - Double Sparsity's label channels per head (mean |q_c| · mean |k_c|, the top r channels);
 *  - MoA's per-head attention-mass-by-distance profiles, fitted to a budget by fitMoaSpans.
 */
import type { Model } from '../models/model';
import type { KvCacheView } from './contract';
import { type MoaSpan, attentionDistanceProfile, fitMoaSpans } from './moa';
import { readRow, SparsePolicy, topK, type HeadRequest, type HeadSelection } from './policy';

/** A policy that reads everything and shows each request to `observe`. */
class RecordingPolicy extends SparsePolicy {
  readonly name = 'recording';
  constructor(private readonly observe: (req: HeadRequest) => void) {
    super();
  }
  selectHead(req: HeadRequest): HeadSelection {
    this.observe(req);
    return { kind: 'all' };
  }
}

async function record(model: Model, texts: readonly string[], observe: (req: HeadRequest) => void): Promise<void> {
  const policy = new RecordingPolicy(observe);
  for (const t of texts) {
    const ids = model.tokenizer.encode(t).slice(0, model.config.maxSeqLen);
    if (ids.length >= 2) await model.logits(ids, { attention: policy });
  }
}

/** Label channels[layer][kvHead] for DoubleSparsityPolicy: the r channels carrying most of q·k. */
export async function calibrateDoubleSparsity(model: Model, texts: readonly string[], r: number): Promise<Uint32Array[][]> {
  const c = model.config;
  const D = c.headDim;
  const qAbs = Array.from({ length: c.layers * c.kvHeads }, () => new Float64Array(D));
  const kAbs = Array.from({ length: c.layers * c.kvHeads }, () => new Float64Array(D));
  const row = new Float32Array(D);
  await record(model, texts, (req) => {
    const i = req.layer * c.kvHeads + req.kvHead;
    for (let j = 0; j < req.queries.length; j++) qAbs[i]![j % D]! += Math.abs(req.queries[j]!);
    readRow(req.kv, 'k', req.kvHead, req.pos, row); // each token's key is seen once, at its own position
    for (let d = 0; d < D; d++) kAbs[i]![d]! += Math.abs(row[d]!);
  });
  return Array.from({ length: c.layers }, (_, l) =>
    Array.from({ length: c.kvHeads }, (_, h) => {
      const i = l * c.kvHeads + h;
      return topK(qAbs[i]!.map((a, d) => a * kAbs[i]![d]!), Math.min(r, D));
    }),
  );
}

/**
 * Mean attention mass by distance per head: profiles[layer][kvHead][d] averages, over calibration
 * queries that have a key at distance d, the attention weight on that key.
 */
export async function attentionProfiles(model: Model, texts: readonly string[]): Promise<Float64Array[][]> {
  const c = model.config;
  const L = c.maxSeqLen;
  const sum = Array.from({ length: c.layers * c.kvHeads }, () => new Float64Array(L));
  const count = new Float64Array(L);
  await record(model, texts, (req) => {
    const p = attentionDistanceProfile(req.queries, req.kv as KvCacheView, req.kvHead, req.pos);
    const s = sum[req.layer * c.kvHeads + req.kvHead]!;
    for (let d = 0; d < p.length; d++) s[d]! += p[d]!;
    if (req.layer === 0 && req.kvHead === 0) for (let d = 0; d <= req.pos; d++) count[d]!++;
  });
  return Array.from({ length: c.layers }, (_, l) =>
    Array.from({ length: c.kvHeads }, (_, h) => sum[l * c.kvHeads + h]!.map((x, d) => (count[d]! > 0 ? x / count[d]! : 0))),
  );
}

/**
 * MoA spans for MoaPolicy fitted to `density` (average fraction of the full context read, sinks
 * included) on calibration text. Spans are fixed token counts at the model's context length
 * (alpha = fraction · context − sinks, beta = 0), so short sequences read everything, as the
 * other policies' token budgets do.
 */
export async function calibrateMoa(model: Model, texts: readonly string[], density: number, sinks = 4): Promise<MoaSpan[][]> {
  const profiles = await attentionProfiles(model, texts);
  const L = model.config.maxSeqLen;
  return fitMoaSpans(profiles, L, { density, sinks: 0 }).map((layer) =>
    layer.map((s) => ({ alpha: Math.max(1, Math.round(s.beta * L) - sinks), beta: 0 })),
  );
}
