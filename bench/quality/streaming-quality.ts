/**
 * StreamingLLM with eviction on stories260K (context 512): perplexity of held-out text fed one
 * token per forward pass, the way the paper evaluates streaming (every token is a decode step, so
 * the cache evicts exactly as it would while generating). Compared: dense, the select-only
 * streaming policy (cache keeps growing, original positions), the evicting policy (bounded cache,
 * positions within the cache), eviction in batches of 16, a window with no sinks, and the whole
 * text past the model's context length (which only the evicting policy can decode; dense scores it
 * in sliding windows of the context as a reference).
 */
import { existsSync } from 'fs';
import { resolve } from 'path';
import { createAttentionPolicy } from '../../lib/attention/create';
import { perplexity } from '../../lib/eval/perplexity';
import { loadModel } from '../../lib/models/load';
import type { Model } from '../../lib/models/model';
import type { AttentionPolicy } from '../../lib/nn/attention';
import type { BenchRow, Suite, SuiteContext } from '../harness';
import { PACKAGE_ROOT } from '../report';
import { EVALUATION_STORIES } from './texts';

const STORIES_DIR = process.env.SPARSENN_STORIES_DIR ?? resolve(PACKAGE_ROOT, '../shared/models/stories260K');

/** Mean NLL (nats) of ids[1..] with one token per forward pass; also the cache's peak length. */
export async function streamingNll(model: Model, ids: readonly number[], attention: AttentionPolicy | undefined): Promise<{ nll: number; peakCache: number }> {
  const net = model.network;
  const cache = net.newCache(64);
  const V = net.config.vocabSize;
  let sum = 0;
  let peak = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const logits = await net.forward([{ ids: [ids[t]!], cache }], { backend: 'cpu', attention, allLogits: false });
    peak = Math.max(peak, cache.length);
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[v]!);
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(logits[v]! - max);
    sum += Math.log(z) + max - logits[ids[t + 1]!]!;
  }
  return { nll: sum / (ids.length - 1), peakCache: peak };
}

async function run(ctx: SuiteContext) {
  const bin = resolve(STORIES_DIR, 'stories260K.bin');
  const tok = resolve(STORIES_DIR, 'tok512.bin');
  if (!existsSync(bin) || !existsSync(tok)) return { rows: [], summary: [`stories260K not found in ${STORIES_DIR}: nothing measured`] };
  const model = await loadModel(bin, { tokenizer: tok });
  const L = model.config.maxSeqLen;
  const all = model.tokenizer.encode(EVALUATION_STORIES.join(' '));
  const ids = all.slice(0, ctx.tiny ? 80 : L);
  const sinks = 4;
  const window = ctx.tiny ? 28 : L / 4 - sinks;
  const spec = { policy: 'streaming', sinks, window } as const;
  const cases: Array<[string, AttentionPolicy | undefined, readonly number[]]> = [
    ['full', undefined, ids],
    ['streaming (select only)', createAttentionPolicy(spec), ids],
    ['streaming evict', createAttentionPolicy({ ...spec, evict: true }), ids],
    ['streaming evict, batch 16', createAttentionPolicy({ ...spec, evict: true, evictBatch: 16 }), ids],
    [`window ${sinks + window}, no sinks, evict`, createAttentionPolicy({ policy: 'streaming', sinks: 0, window: sinks + window, evict: true }), ids],
  ];
  if (!ctx.tiny) cases.push([`streaming evict, all ${all.length - 1} tokens (past the context)`, createAttentionPolicy({ ...spec, evict: true }), all]);
  const rows: BenchRow[] = [];
  const results: Array<{ name: string; ppl: number; peak: number; tokens: number }> = [];
  for (const [name, policy, text] of cases) {
    const t0 = performance.now();
    const r = await streamingNll(model, text, policy);
    const ms = performance.now() - t0;
    const ppl = Math.exp(r.nll);
    results.push({ name, ppl, peak: r.peakCache, tokens: text.length - 1 });
    ctx.log(`streaming-quality: ${name}: ppl ${ppl.toFixed(4)}, cache peak ${r.peakCache}`);
    rows.push({
      op: 'perplexity (token by token)',
      shape: `stories260K, ${text.length - 1} tokens, context ${L}`,
      dtype: 'f32',
      backend: name,
      threads: ctx.threads,
      medianMs: ms,
      p10Ms: ms,
      p90Ms: ms,
      runs: 1,
      note: `ppl ${ppl.toFixed(4)}; cache peak ${r.peakCache} tokens${policy ? `; sinks ${name.includes('no sinks') ? 0 : sinks} + window ${name.includes('no sinks') ? sinks + window : window}` : ''}`,
    });
  }
  if (!ctx.tiny) {
    // The whole text with dense attention can only be scored in windows of the context (perplexity()'s sliding window).
    const t0 = performance.now();
    const r = await perplexity(model, all, { backend: 'cpu' });
    const ms = performance.now() - t0;
    results.push({ name: `full, sliding ${L}-token windows (stride ${L / 2}), all ${all.length - 1} tokens`, ppl: r.perplexity, peak: L, tokens: r.tokens });
    rows.push({
      op: 'perplexity (sliding window)',
      shape: `stories260K, ${all.length - 1} tokens, context ${L}`,
      dtype: 'f32',
      backend: 'full',
      threads: ctx.threads,
      medianMs: ms,
      p10Ms: ms,
      p90Ms: ms,
      runs: 1,
      note: `ppl ${r.perplexity.toFixed(4)}; windows of ${L} tokens, stride ${L / 2} (reference for the past-the-context row)`,
    });
  }
  const dense = results[0]!;
  const summary = [
    `stories260K, ${dense.tokens} tokens fed one by one, sinks ${sinks} + window ${window}: ` +
      results.map((r) => `${r.name} ${r.ppl.toFixed(4)} (cache peak ${r.peak})`).join(', ') +
      `; dense ${dense.ppl.toFixed(4)}`,
  ];
  return { rows, summary };
}

export const streamingQualitySuite: Suite = {
  name: 'streaming-quality',
  description: 'stories260K token-by-token perplexity: StreamingLLM with eviction (bounded cache) vs select-only vs dense, and past the context',
  run,
};
