/**
 * decode: a Llama-shaped model with deterministic synthetic weights (TinyLlama-1.1B's shapes
 * in the full run), built in memory, decoding through the real model code path
 * (LlamaNetwork + KV cache + matmulAsync): decode tokens/s and prefill tokens/s, dense bf16
 * vs the same model magnitude-pruned (one pass, here) to 2:4 (N:M format), about 70% and 90%
 * unstructured (CSR; the real sparsity of each variant is reported),
 * all in one run with the variants interleaved round by round. The weights are swapped in
 * with Linear.setWeight, the same seam a pruner uses. The LM head stays dense in every
 * variant (it is usually not pruned), which caps the achievable ratio; the summary says by how much.
 */
import { nativeBinding } from '../lib/backend/native';
import { bytesPerElement, type DType } from '../lib/dtype';
import { toCsr } from '../lib/formats/csr';
import { toNm } from '../lib/formats/nm';
import { argmax } from '../lib/generate/sampler';
import { LlamaNetwork, type LlamaLayer } from '../lib/models/llama';
import { emptyTimings, type ModelConfig, type StageTimings } from '../lib/models/types';
import { Linear, type LinearWeight } from '../lib/nn/linear';
import { Tensor } from '../lib/tensor';
import { addRatios, makeRow, summarize, type BenchRow, type Suite, type SuiteContext } from './harness';

export interface Plan {
  label: string;
  dim: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  dtype: DType;
  prompt: number;
  decodeTokens: number;
  rounds: number;
}

export const PLANS: Record<'full' | 'quick' | 'tiny', Plan> = {
  full: { label: 'TinyLlama-1.1B shapes', dim: 2048, hidden: 5632, layers: 22, heads: 32, kvHeads: 4, vocab: 32000, dtype: 'bf16', prompt: 64, decodeTokens: 8, rounds: 3 },
  quick: { label: 'dim 1024, 6 layers', dim: 1024, hidden: 2816, layers: 6, heads: 16, kvHeads: 4, vocab: 8192, dtype: 'bf16', prompt: 32, decodeTokens: 8, rounds: 3 },
  tiny: { label: 'tiny', dim: 64, hidden: 96, layers: 2, heads: 4, kvHeads: 2, vocab: 128, dtype: 'bf16', prompt: 4, decodeTokens: 2, rounds: 1 },
};

type VariantName = 'dense' | '2:4' | '70%' | '90%';

interface Variant {
  name: VariantName;
  format: string;
  sparsity: number;
  /** Weight per linear name (head excluded). */
  weights: Map<string, LinearWeight>;
  bytes: number;
}

function weightBytes(w: LinearWeight): number {
  return (w as { bytes: number }).bytes;
}

/** A Llama network with deterministic random weights (uniform, scaled 1/sqrt(fan-in)); bench/decode_long.ts reuses it. */
export function syntheticNetwork(p: Plan, maxSeqLen = 4096): LlamaNetwork {
  let seed = 1;
  const lin = (n: number, k: number) => new Linear(Tensor.random([n, k], seed++, 1 / Math.sqrt(k)).to(p.dtype));
  const ones = (n: number) => new Float32Array(n).fill(1);
  const hd = p.dim / p.heads;
  const kvDim = p.kvHeads * hd;
  const layers: LlamaLayer[] = [];
  for (let l = 0; l < p.layers; l++)
    layers.push({
      attnNorm: ones(p.dim),
      wq: lin(p.dim, p.dim),
      wk: lin(kvDim, p.dim),
      wv: lin(kvDim, p.dim),
      wo: lin(p.dim, p.dim),
      ffnNorm: ones(p.dim),
      w1: lin(p.hidden, p.dim),
      w2: lin(p.dim, p.hidden),
      w3: lin(p.hidden, p.dim),
    });
  const embedding = Tensor.random([p.vocab, p.dim], seed++, 1).to(p.dtype);
  const config: ModelConfig = {
    architecture: 'llama', source: 'safetensors', dim: p.dim, hiddenDim: p.hidden, layers: p.layers, heads: p.heads,
    kvHeads: p.kvHeads, headDim: hd, vocabSize: p.vocab, maxSeqLen, normEps: 1e-5, ropeTheta: 10000,
    ropeLayout: 'half', tiedEmbeddings: true, bosId: 1, eosId: 2, weightDType: p.dtype,
  };
  return new LlamaNetwork(config, { embedding, layers, finalNorm: ones(p.dim), head: new Linear(embedding) });
}

function buildVariants(net: LlamaNetwork, log: (m: string) => void): Variant[] {
  const linears = [...net.linears()].filter(([name]) => name !== 'lm_head');
  const make = (name: VariantName, format: string, convert: (w: Tensor) => LinearWeight): Variant => {
    const t0 = Date.now();
    const weights = new Map<string, LinearWeight>();
    let bytes = 0;
    let stored = 0;
    let total = 0;
    for (const [n, l] of linears) {
      const w = convert(l.weight as Tensor);
      weights.set(n, w);
      bytes += weightBytes(w);
      const size = l.outFeatures * l.inFeatures;
      total += size;
      stored += (w as { nnz?: number }).nnz ?? size;
    }
    const actual = 1 - stored / total;
    log(`decode: built ${name} (${format}, sparsity ${(actual * 100).toFixed(1)}%) in ${((Date.now() - t0) / 1e3).toFixed(1)} s, ${(bytes / 2 ** 20).toFixed(0)} MiB`);
    return { name, format, sparsity: name === 'dense' ? 0 : actual, weights, bytes };
  };
  return [
    make('dense', 'dense', (w) => w),
    make('2:4', 'nm', (w) => toNm(keepLargestInGroups(w, 2, 4), { n: 2, m: 4 })),
    make('70%', 'csr', (w) => toCsr(pruneBelowQuantile(w, 0.7))),
    make('90%', 'csr', (w) => toCsr(pruneBelowQuantile(w, 0.9))),
  ];
}

/** |w| of a bf16 / f16 / f32 element, comparable within one dtype (bit patterns of halves order like their magnitudes). */
function magnitudeKey(t: Tensor): (i: number) => number {
  if (t.dtype === 'f32') {
    const d = t.data as Float32Array;
    return (i) => Math.abs(d[i]!);
  }
  const d = t.data as Uint16Array;
  return (i) => d[i]! & 0x7fff;
}

/**
 * Magnitude N:M pruning in one pass over the stored elements (the benchmark's weights are
 * random, so magnitude only decides which positions the pattern keeps; lib/prune does the
 * real pruning with calibration data). Returns a copy with the rest zeroed.
 */
function keepLargestInGroups(w: Tensor, n: number, m: number): Tensor {
  const key = magnitudeKey(w);
  const out = w.dtype === 'f32' ? new Float32Array(w.data as Float32Array) : new Uint16Array(w.data as Uint16Array);
  const keep = new Uint8Array(m);
  for (let g = 0; g < out.length; g += m) {
    const width = Math.min(m, out.length - g);
    keep.fill(0);
    // n rounds of "largest not yet kept": no allocation per group (a 1.1B-weight model has 275M groups).
    for (let r = 0; r < Math.min(n, width); r++) {
      let best = -1;
      for (let j = 0; j < width; j++) if (!keep[j] && (best < 0 || key(g + j) > key(g + best))) best = j;
      keep[best] = 1;
    }
    for (let j = 0; j < width; j++) if (!keep[j]) out[g + j] = 0;
  }
  return new Tensor(out, w.shape, w.dtype);
}

/** Unstructured magnitude pruning to about `sparsity`: a threshold from a 64k-element sample, one pass. */
function pruneBelowQuantile(w: Tensor, sparsity: number): Tensor {
  const key = magnitudeKey(w);
  const n = w.data.length;
  const sample = Array.from({ length: Math.min(n, 65536) }, (_, i) => key(Math.floor((i * n) / Math.min(n, 65536))));
  sample.sort((a, b) => a - b);
  const threshold = sample[Math.min(sample.length - 1, Math.floor(sparsity * sample.length))]!;
  const out = w.dtype === 'f32' ? new Float32Array(w.data as Float32Array) : new Uint16Array(w.data as Uint16Array);
  for (let i = 0; i < n; i++) if (key(i) < threshold) out[i] = 0;
  return new Tensor(out, w.shape, w.dtype);
}

function install(net: LlamaNetwork, v: Variant): void {
  const linears = net.linears();
  for (const [n, w] of v.weights) linears.get(n)!.setWeight(w);
}

interface Samples {
  prefillMs: number[];
  decodeMs: number[];
  samplingMs: number[];
  stages: StageTimings;
  stageTokens: number;
}

/** One prefill of the prompt, then greedy decode steps; every step's time is one sample. */
async function runOnce(net: LlamaNetwork, p: Plan, s: Samples, record: boolean): Promise<void> {
  const cache = net.newCache(p.prompt + p.decodeTokens + 1);
  const prompt = Array.from({ length: p.prompt }, (_, i) => 3 + ((i * 7919) % (p.vocab - 3)));
  let t = performance.now();
  let logits = await net.forward([{ ids: prompt, cache }], { backend: 'cpu', allLogits: false });
  if (record) s.prefillMs.push(performance.now() - t);
  const timings = emptyTimings();
  for (let i = 0; i < p.decodeTokens; i++) {
    t = performance.now();
    const next = argmax(logits);
    const ts = performance.now();
    logits = await net.forward([{ ids: [next], cache }], { backend: 'cpu', allLogits: false, timings });
    const te = performance.now();
    if (record) {
      s.decodeMs.push(te - t);
      s.samplingMs.push(ts - t);
    }
  }
  if (record) {
    for (const k of Object.keys(timings) as (keyof StageTimings)[]) s.stages[k] += timings[k];
    s.stageTokens += p.decodeTokens;
  }
}

async function run(ctx: SuiteContext) {
  if (!nativeBinding()) return { rows: [], summary: ['native addon not loaded: the decode suite measures the cpu backend, nothing run'] };
  const p = PLANS[ctx.tiny ? 'tiny' : ctx.quick ? 'quick' : 'full'];
  const t0 = Date.now();
  const net = syntheticNetwork(p);
  ctx.log(`decode: built ${p.label} dense ${p.dtype} weights in ${((Date.now() - t0) / 1e3).toFixed(1)} s`);
  const variants = buildVariants(net, ctx.log);
  const headBytes = (net.weights.head.weight as Tensor).bytes;
  const samples = new Map<VariantName, Samples>(
    variants.map((v) => [v.name, { prefillMs: [], decodeMs: [], samplingMs: [], stages: emptyTimings(), stageTokens: 0 }]),
  );
  // Warm-up round (untimed), then rounds with the variants interleaved.
  for (let round = 0; round <= p.rounds; round++) {
    for (const v of variants) {
      install(net, v);
      await runOnce(net, p, samples.get(v.name)!, round > 0);
    }
    ctx.log(`decode: round ${round}/${p.rounds} done`);
  }

  const shape = `${p.label}, prompt ${p.prompt}`;
  const rows: BenchRow[] = [];
  const summary: string[] = [];
  const dense = variants[0]!;
  const denseDecode = summarize(samples.get('dense')!.decodeMs).medianMs;
  const densePrefill = summarize(samples.get('dense')!.prefillMs).medianMs;
  for (const v of variants) {
    const s = samples.get(v.name)!;
    const dec = summarize(s.decodeMs);
    const pre = summarize(s.prefillMs);
    const base = { dtype: p.dtype, backend: v.name === 'dense' ? 'cpu' : `${v.format} ${v.name}`, threads: ctx.threads, denseBaseline: v.name === 'dense' };
    const sp = v.sparsity > 0 ? { sparsity: v.sparsity } : {};
    rows.push(
      makeRow({ ...base, ...sp, op: 'decode token', shape, note: `${(1e3 / dec.medianMs).toFixed(1)} tokens/s` }, dec, { bytes: v.bytes + headBytes }),
    );
    rows.push(
      makeRow({ ...base, ...sp, op: 'prefill', shape, note: `${((1e3 * p.prompt) / pre.medianMs).toFixed(1)} tokens/s` }, pre, {
        flops: (2 * p.prompt * (dense.bytes + headBytes)) / bytesPerElement(p.dtype),
      }),
    );
    const per = (k: keyof StageTimings) => s.stages[k] / s.stageTokens;
    const samp = summarize(s.samplingMs).medianMs;
    summary.push(
      `${v.name}: decode ${(1e3 / dec.medianMs).toFixed(1)} tok/s (${(denseDecode / dec.medianMs).toFixed(2)}x dense), ` +
        `prefill ${((1e3 * p.prompt) / pre.medianMs).toFixed(1)} tok/s (${(densePrefill / pre.medianMs).toFixed(2)}x); ` +
        `per token ms: qkv ${per('qkv').toFixed(2)}, rope+cache ${per('rope').toFixed(2)}, attention ${per('attention').toFixed(2)}, ` +
        `o-proj ${per('out').toFixed(2)}, mlp ${per('mlp').toFixed(2)}, norm ${per('norm').toFixed(2)}, head ${per('head').toFixed(2)}, ` +
        `sampling ${samp.toFixed(2)}; weights ${((v.bytes + headBytes) / 2 ** 20).toFixed(0)} MiB ` +
        `(byte ceiling ${((dense.bytes + headBytes) / (v.bytes + headBytes)).toFixed(2)}x with the dense head)`,
    );
  }
  return { rows: addRatios(rows), summary };
}

export const decodeSuite: Suite = {
  name: 'decode',
  description: 'Llama-shaped model decode/prefill tokens/s: dense bf16 vs 2:4 vs 70%/90% unstructured, per-stage split',
  run,
};
