/**
 * decode-long: end-to-end decode tokens/s of the synthetic TinyLlama-shaped model (bf16 weights,
 * bench/decode.ts) at a 32K-token context, dense attention vs sparse attention policies at 1/16
 * of the context, through the real model code path (LlamaNetwork + KvCache + policies + kernels).
 *
 * THE CACHE IS SYNTHETIC: prefilling 32K tokens through 1.1B parameters takes too long here, so
 * KvCache.fillSynthetic writes random non-zero keys and values for positions [0, 32K) and decode
 * steps run on top of it. Each timed step appends one token at position 32K and the cache is then
 * cut back to 32K, so every step sees the same context. The numbers are speed, not quality
 * (random keys give Quest's bounds no structure to exploit beyond what the kernels do anyway).
 *
 * Dense rows: the model's default path (no policy: the causal flash-style kernel run with one
 * query row) and the `full` policy (the decode kernel over all keys); the ratio is against the
 * faster. Sparse rows include their selection cost (Quest page scoring, Double Sparsity label
 * scoring); `streaming` (sinks + window, no selection) shows what reading 1/16 costs alone.
 * The KV cache of the model is f32 (bench/attention measures f16 caches at the kernel level).
 */
import { createAttentionPolicy } from '../lib/attention/create';
import { nativeBinding } from '../lib/backend/native';
import { argmax } from '../lib/generate/sampler';
import { emptyTimings } from '../lib/models/types';
import type { AttentionPolicy } from '../lib/nn/attention';
import type { Tensor } from '../lib/tensor';
import { PLANS, syntheticNetwork } from './decode';
import { addRatios, makeRow, summarize, type BenchRow, type Suite, type SuiteContext } from './harness';

const CONTEXT = { full: 32768, quick: 8192, tiny: 256 } as const;

interface Variant {
  name: string;
  make: () => AttentionPolicy | undefined;
  dense: boolean;
  /** KV-cache bytes the step reads per layer per KV head, besides the weights (for GB/s). */
  kvTokens: (ctx: number) => number;
}

async function run(ctx: SuiteContext) {
  if (!nativeBinding()) return { rows: [], summary: ['native addon not loaded: the decode-long suite measures the cpu backend, nothing run'] };
  const size = ctx.tiny ? 'tiny' : ctx.quick ? 'quick' : 'full';
  const p = PLANS[size];
  const L = CONTEXT[size];
  const budget = L / 16;
  const steps = ctx.tiny ? 2 : 3;
  const rounds = ctx.tiny ? 1 : 6;
  const t0 = Date.now();
  const net = syntheticNetwork(p, L + 64);
  const c = net.config;
  ctx.log(`decode-long: built ${p.label} ${p.dtype} weights in ${((Date.now() - t0) / 1e3).toFixed(1)} s`);
  const cache = net.newCache(L + 1);
  const t1 = Date.now();
  cache.fillSynthetic(L, 7, 1);
  ctx.log(`decode-long: synthetic KV cache of ${L} positions (${(cache.bytes / 2 ** 30).toFixed(2)} GiB f32) in ${((Date.now() - t1) / 1e3).toFixed(1)} s`);

  const variants: Variant[] = [
    { name: 'dense (default path)', make: () => undefined, dense: true, kvTokens: (n) => n },
    { name: 'dense (full policy)', make: () => createAttentionPolicy({ policy: 'full' }), dense: true, kvTokens: (n) => n },
    { name: 'quest 1/16', make: () => createAttentionPolicy({ policy: 'quest', budget, pageSize: 16 }), dense: false, kvTokens: () => budget },
    { name: 'doubleSparsity 1/16', make: () => createAttentionPolicy({ policy: 'doubleSparsity', budget }), dense: false, kvTokens: () => budget },
    { name: 'streaming 1/16', make: () => createAttentionPolicy({ policy: 'streaming', sinks: 4, window: budget - 4 }), dense: false, kvTokens: () => budget },
  ];
  const policies = variants.map((v) => v.make());
  const samples = variants.map(() => ({ ms: [] as number[], attentionMs: [] as number[], restMs: [] as number[] }));

  let logits: Float32Array = new Float32Array(c.vocabSize).fill(0);
  logits[3] = 1;
  const step = async (vi: number, record: boolean) => {
    const next = argmax(logits);
    const timings = emptyTimings();
    const t = performance.now();
    logits = await net.forward([{ ids: [next], cache }], { backend: 'cpu', attention: policies[vi], allLogits: false, timings });
    const ms = performance.now() - t;
    cache.length = L; // the same 32K context for every step
    if (!record) return;
    const s = samples[vi]!;
    s.ms.push(ms);
    s.attentionMs.push(timings.attention);
    s.restMs.push(ms - timings.attention);
  };
  // Warm-up: one step per variant (Quest's page bounds and Double Sparsity's label cache of the
  // whole 32K context are built here, once, as they would be during a real prefill).
  for (let v = 0; v < variants.length; v++) {
    const tw = Date.now();
    await step(v, false);
    await step(v, false);
    ctx.log(`decode-long: warm-up ${variants[v]!.name} ${((Date.now() - tw) / 1e3).toFixed(1)} s`);
  }
  for (let r = 0; r < rounds; r++) {
    for (let v = 0; v < variants.length; v++) for (let i = 0; i < steps; i++) await step(v, true);
    ctx.log(`decode-long: round ${r + 1}/${rounds} done`);
  }

  const weightBytes = [...net.linears().values()].reduce((a, l) => a + (l.weight as Tensor).bytes, 0);
  const kvBytes = (tokens: number) => 2 * c.layers * c.kvHeads * tokens * c.headDim * 4;
  const shape = `${p.label}, context ${L} (synthetic KV cache, f32)`;
  const rows: BenchRow[] = [];
  const stats = samples.map((s) => summarize(s.ms));
  const attnMs = samples.map((s) => summarize(s.attentionMs).medianMs);
  const bestDense = Math.min(...variants.map((v, i) => (v.dense ? stats[i]!.medianMs : Infinity)));
  const bestDenseAttn = Math.min(...variants.map((v, i) => (v.dense ? attnMs[i]! : Infinity)));
  variants.forEach((v, i) => {
    const st = stats[i]!;
    rows.push(
      makeRow(
        {
          op: 'decode token',
          shape,
          dtype: p.dtype,
          backend: v.name,
          threads: ctx.threads,
          denseBaseline: v.dense,
          note: `${(1e3 / st.medianMs).toFixed(2)} tokens/s; attention ${attnMs[i]!.toFixed(1)} ms/token`,
        },
        st,
        { bytes: weightBytes + kvBytes(v.kvTokens(L)) },
      ),
    );
  });
  // Everything but attention (weights, norms, head), median per step over every variant's steps.
  const rest = summarize(samples.flatMap((s) => s.restMs)).medianMs;
  const summary = variants.map(
    (v, i) =>
      `${v.name}: ${(1e3 / stats[i]!.medianMs).toFixed(2)} tok/s (${(bestDense / stats[i]!.medianMs).toFixed(2)}x best dense), ` +
      `attention ${attnMs[i]!.toFixed(1)} ms/token median (${(bestDenseAttn / attnMs[i]!).toFixed(1)}x less than the best dense), p10-p90 ${stats[i]!.p10Ms.toFixed(0)}-${stats[i]!.p90Ms.toFixed(0)} ms`,
  );
  summary.push(
    `context ${L}: KV cache ${(kvBytes(L) / 2 ** 30).toFixed(2)} GiB f32 read per dense token vs ${(weightBytes / 2 ** 30).toFixed(2)} GiB of weights; ` +
      `everything but attention takes ~${rest.toFixed(0)} ms/token (median over every step), so free attention would make a token ~${(bestDense / rest).toFixed(2)}x faster than the best dense ` +
      `(an estimate from medians of noisy steps: a ratio above it is noise, not a gain beyond it). ` +
      `The KV cache is synthetic (KvCache.fillSynthetic), not a prefill.`,
  );
  return { rows: addRatios(rows), summary };
}

export const decodeLongSuite: Suite = {
  name: 'decode-long',
  description: 'TinyLlama-shaped model decode tokens/s at a 32K context (synthetic KV cache): dense vs quest / doubleSparsity / streaming at 1/16',
  run,
};
