/**
 * Decode attention at long context, Llama-7B attention shapes (32 query heads, 8 KV heads, head
 * dim 128, f16 cache): dense attention against sparse policies at a 1/16 budget, in the same
 * interleaved rounds, with the streaming-read ceiling timed alongside. Policy rows include their
 * selection cost, run as the decoding loop runs it: one native call per layer that scores a head's
 * summaries (Quest's page bounds, Double Sparsity's label rows), takes their top-k and attends over
 * the choice, one task per KV head (decodeLayer). Quest's int8 page bounds are 1/31.5 of the KV
 * bytes, so its byte ceiling at a 1/16 budget is 10.6x; Double Sparsity's 4-bit label rows with a
 * f32 scale per token are 1/42.7, ceiling 11.7x. The kernel-only and selection-only rows show the
 * split, and GB/s count every byte a row reads. Every decode variant is timed from cold caches (an
 * untimed 64 MiB read before each). Dense attention is also timed over an f32 cache (up to 32K),
 * and warm from cache at 1K (its arithmetic ceiling: with an f16 cache the FMAs per key, not the
 * bytes, can be the limit). Plus block-sparse causal prefill (1/8 of the blocks) against dense
 * causal prefill.
 */
import { planBlockSparse, runBlockSparse } from '../lib/attention/block_sparse';
import type { KvCacheView, KvSelection } from '../lib/attention/contract';
import { DoubleSparsityPolicy } from '../lib/attention/double_sparsity';
import { attentionDecode } from '../lib/attention/ops';
import type { SparseAttentionPolicy } from '../lib/attention/policy';
import { QuestPolicy } from '../lib/attention/quest';
import { StreamingPolicy } from '../lib/attention/streaming';
import { TidalPolicy } from '../lib/attention/tidal';
import { alignedArray } from '../lib/backend/aligned';
import { adviseHugePages } from '../lib/backend/huge_pages';
import { nativeBinding } from '../lib/backend/native';
import { Tensor } from '../lib/tensor';
import { addRatios, makeRow, timeInterleaved, type BenchRow, type Suite, type SuiteContext, type TimeOptions, type TimeStats } from './harness';

const HEADS = 32;
const KV_HEADS = 8;
const D = 128;
const SCALE = 1 / Math.sqrt(D);
/** Longest context with an f32-cache dense row beside the f16 one. */
const F32_MAX_CONTEXT = 32768;

interface Plan {
  contexts: number[];
  prefillT: number;
  /** A second, long prefill row (issue 6: block-sparse prefill at 8K tokens with 1/8 of blocks kept). */
  prefillLongT?: number;
  timing: TimeOptions;
  prefillTiming: TimeOptions;
  streamMiB: number;
  /** Context of the warm dense rows (denseWarmRows), small enough that the cache stays in L3. */
  warmContext: number;
  warmTiming: TimeOptions;
}

const PLANS: Record<'full' | 'quick' | 'tiny', Plan> = {
  full: { contexts: [4096, 32768, 131072], prefillT: 2048, prefillLongT: 8192, timing: { warmup: 3, minRuns: 15, minTimeMs: 1500 }, prefillTiming: { warmup: 1, minRuns: 5, minTimeMs: 0 }, streamMiB: 256, warmContext: 1024, warmTiming: { warmup: 20, minRuns: 50, minTimeMs: 500 } },
  quick: { contexts: [4096, 16384], prefillT: 1024, timing: { warmup: 2, minRuns: 8, minTimeMs: 300 }, prefillTiming: { warmup: 1, minRuns: 3, minTimeMs: 0 }, streamMiB: 128, warmContext: 1024, warmTiming: { warmup: 10, minRuns: 20, minTimeMs: 200 } },
  tiny: { contexts: [256], prefillT: 64, timing: { warmup: 1, minRuns: 3, minTimeMs: 0 }, prefillTiming: { warmup: 1, minRuns: 2, minTimeMs: 0 }, streamMiB: 4, warmContext: 256, warmTiming: { warmup: 1, minRuns: 3, minTimeMs: 0 } },
};

function cache(length: number, seed: number, dtype: 'f16' | 'f32' = 'f16'): KvCacheView {
  const n = KV_HEADS * length * D;
  // On 64-byte lines, as KvCache allocates (lib/backend/aligned.ts): a 256-byte row then spans 4 lines, not 5.
  const array = (values: Float32Array | Uint16Array) => {
    const a = values instanceof Float32Array ? alignedArray(Float32Array, n) : alignedArray(Uint16Array, n);
    a.set(values);
    return a;
  };
  const k = array(Tensor.random([n], seed).to(dtype).data as Float32Array | Uint16Array);
  const v = array(Tensor.random([n], seed + 1).to(dtype).data as Float32Array | Uint16Array);
  // A KV cache is long-lived and streamed: 2 MiB pages, as a serving cache would ask for
  // (lib/backend/huge_pages.ts). The stream-read ceiling below gets them too.
  adviseHugePages(k);
  adviseHugePages(v);
  return {
    k,
    v,
    dtype,
    kvHeads: KV_HEADS,
    length,
    headDim: D,
    headStride: length * D,
    tokenStride: D,
  };
}

/** Decode attention of the bench's query heads over `kv`'s `selection`, on the cpu backend, as a timed call. */
function decodeCall(q: Float32Array, kv: KvCacheView, selection: KvSelection, out: Float32Array): () => void {
  return () => attentionDecode({ q, heads: HEADS, kv, selection, scale: SCALE, out }, { backend: 'cpu' });
}

async function decodeRows(ctx: SuiteContext, L: number, plan: Plan, stream: () => unknown, streamBytes: number, evict: () => unknown) {
  const kv = cache(L, L);
  const q = Tensor.random([HEADS * D], 3).data as Float32Array;
  const out = new Float32Array(HEADS * D);
  const budget = L / 16;
  const run = (selection: KvSelection) => decodeCall(q, kv, selection, out);
  const policies: Array<[string, SparseAttentionPolicy, number]> = [
    ['quest', new QuestPolicy({ budget, pageSize: 16 }), 0],
    ['doubleSparsity', new DoubleSparsityPolicy({ budget, labelChannels: D / 8 }), 0],
    ['streaming', new StreamingPolicy({ sinks: 4, window: budget - 4 }), 0],
  ];
  // What each policy's selection reads per step: Quest's int8 [hi, lo] rows and f32 scale of the
  // complete pages, Double Sparsity's 4-bit label rows (r = D/8 channels, two a byte) and f32
  // scales of the older tokens.
  const selectionBytes = [KV_HEADS * (Math.ceil(L / 16) - 1) * (2 * D + 4), KV_HEADS * (L - 1) * (D / 16 + 4), 0];
  const selectionDtype = ['int8+scale', 'int4+scale'];
  // TidalDecode: the reusing layers read the positions a selection layer chose.
  const tidal = new TidalPolicy({ budget, selectionLayers: [0] });
  tidal.selectLayer(0, q, HEADS, kv, L - 1);
  const fns: Array<() => unknown> = [run({ kind: 'all' })];
  // A policy's step as the decoding loop runs it (lib/nn/attention.ts attendRows): one fused call
  // where the policy has one (decodeLayer: Quest, Double Sparsity), else its selection and the kernel.
  for (const [, p, layer] of policies)
    fns.push(() => p.decodeLayer?.(layer, q, HEADS, kv, L - 1, SCALE, out, 'cpu') || run(p.selectLayer(layer, q, HEADS, kv, L - 1))());
  for (const [, p, layer] of policies) {
    const fixed = p.selectLayer(layer, q, HEADS, kv, L - 1); // also builds Quest bounds / DS labels once
    fns.push(run(fixed));
  }
  for (const [, p, layer] of policies.slice(0, 2)) fns.push(() => p.selectLayer(layer, q, HEADS, kv, L - 1));
  fns.push(run(tidal.selectLayer(1, q, HEADS, kv, L - 1)));
  // The floor under Double Sparsity's kernel: a plain read of the same K and V rows (its token list
  // as row numbers of the head-major cache), prefetching ahead, with no attention math.
  const dsList = policies[1]![1].selectLayer(0, q, HEADS, kv, L - 1);
  const dsRows = dsList.kind === 'indices' ? rowNumbers(dsList.offsets, dsList.items, L) : new Uint32Array(0);
  const native = nativeBinding()!;
  fns.push(() => native.benchGatherRead(kv.k, kv.v, D * 2, D * 2, dsRows, ctx.threads));
  // Dense attention over an f32 cache of the same size: the same arithmetic per key for twice the
  // bytes, so where the f16 kernel runs short of arithmetic (denseWarmRows) this one still shows how
  // it streams. Up to 32K (128K would take another GiB). When this VM's stream read doubles (~60
  // GB/s in some runs), f16 and f32 both stay near 31 GB/s: then the bound is what one core keeps in
  // flight through software prefetches (one thread, 32K: ~17 GB/s for the f32 kernel against ~30 for
  // the stream read), not arithmetic or DRAM.
  const kv32 = L <= F32_MAX_CONTEXT ? cache(L, L, 'f32') : undefined;
  if (kv32) fns.push(decodeCall(q, kv32, { kind: 'all' }, out));
  fns.push(stream);
  ctx.log(`attention: decode L=${L}: timing ${fns.length} variants`);
  // Each variant starts with the caches holding none of this layer's data, as in a model's decode
  // step (the other layers' weights and caches pass through between two reads of one layer): an
  // untimed read of another buffer, twice the L3, goes before each. Without it a sparse variant
  // timed after dense attention finds the last quarter of the cache still in L3.
  const stats = (await timeInterleaved(fns.flatMap((f) => [evict, f]), plan.timing)).filter((_, i) => i % 2 === 1);
  const shape = `L=${L} H=${HEADS}/${KV_HEADS} D=${D}`;
  const denseBytes = 2 * KV_HEADS * L * D * 2;
  const ceilingRow = makeRow({ op: 'streamRead', shape: `${streamBytes / 2 ** 20} MiB`, dtype: 'f32', backend: 'cpu', threads: ctx.threads, note: `timed with ${shape}` }, stats[stats.length - 1]!, { bytes: streamBytes });
  const ceiling = { ceiling: ceilingRow.gbps!, ceilingKind: 'stream GB/s' };
  const common = { op: 'decodeAttention', shape, dtype: 'f16', threads: ctx.threads };
  const rows: BenchRow[] = [ceilingRow];
  rows.push({ ...makeRow({ ...common, backend: 'full', denseBaseline: true }, stats[0]!, { bytes: denseBytes }), ...ceiling });
  const sparseBytes = denseBytes / 16;
  policies.forEach(([name], i) =>
    rows.push({
      ...makeRow({ ...common, backend: name, sparsity: 15 / 16, note: `selection + kernel${policies[i]![1].decodeLayer ? ' in one call' : ''}; GB/s over selected KV + selection summaries` }, stats[1 + i]!, {
        bytes: sparseBytes + selectionBytes[i]!,
      }),
      ...ceiling,
    }),
  );
  policies.forEach(([name], i) =>
    rows.push({ ...makeRow({ ...common, backend: `${name} kernel`, sparsity: 15 / 16, note: 'kernel only, selection precomputed' }, stats[4 + i]!, { bytes: sparseBytes }), ...ceiling }),
  );
  policies.slice(0, 2).forEach(([name], i) => {
    const share = (100 * stats[7 + i]!.medianMs) / stats[1 + i]!.medianMs;
    rows.push({
      ...makeRow(
        { op: 'selection', shape, dtype: selectionDtype[i]!, threads: ctx.threads, backend: name, note: `selection only (one native call per layer): ${share.toFixed(0)}% of the policy's step` },
        stats[7 + i]!,
        { bytes: selectionBytes[i]! },
      ),
      ...ceiling,
    });
  });
  rows.push({ ...makeRow({ ...common, backend: 'tidal reuse layer', sparsity: 15 / 16, note: 'kernel over positions a selection layer chose' }, stats[9]!, { bytes: sparseBytes }), ...ceiling });
  rows.push({
    ...makeRow(
      { op: 'gatherRead', shape, dtype: 'f16', threads: ctx.threads, backend: 'doubleSparsity rows', note: "a plain read (prefetching ahead) of the K and V rows Double Sparsity's kernel reads" },
      stats[10]!,
      { bytes: dsRows.length * D * 2 * 2 },
    ),
    ...ceiling,
  });
  if (kv32) rows.push({ ...makeRow({ ...common, dtype: 'f32', backend: 'full', note: 'f32 cache' }, stats[11]!, { bytes: 2 * denseBytes }), ...ceiling });
  return rows;
}

/**
 * The dense kernel with its cache warm: a cache of plan.warmContext tokens (1K in the full plan,
 * 4 MiB in f16) read over and over from L2 and L3, in the same chunks and threads as at long context. What it reaches there is its
 * arithmetic ceiling, the rate it consumes cache at when memory is not the limit. Every key costs
 * the same FMAs in f16 as in f32 for half the bytes, so when this machine's memory reads faster than
 * the f16 ceiling, an f16 cache cannot stream at the memory's rate whatever the kernel's loads do.
 */
async function denseWarmRows(ctx: SuiteContext, plan: Plan): Promise<BenchRow[]> {
  const L = plan.warmContext;
  const q = Tensor.random([HEADS * D], 3).data as Float32Array;
  const out = new Float32Array(HEADS * D);
  const caches = (['f16', 'f32'] as const).map((dtype) => cache(L, L + 5, dtype));
  ctx.log(`attention: dense decode L=${L} warm (arithmetic ceiling)`);
  // One cache at a time: interleaved, each would push the other out of L3.
  const stats: TimeStats[] = [];
  for (const kv of caches) {
    const [st] = await timeInterleaved([decodeCall(q, kv, { kind: 'all' }, out)], plan.warmTiming);
    stats.push(st!);
  }
  const shape = `L=${L} H=${HEADS}/${KV_HEADS} D=${D}`;
  return caches.map((kv, i) =>
    makeRow(
      { op: 'decodeAttentionWarm', shape, dtype: kv.dtype, threads: ctx.threads, backend: 'full', note: 'cache warm in L2/L3: the kernel\'s arithmetic ceiling in GB/s of cache' },
      stats[i]!,
      { bytes: 2 * KV_HEADS * L * D * (kv.dtype === 'f32' ? 4 : 2) },
    ),
  );
}

/** Row numbers (head-major: h·L + t) of a per-head token list. */
function rowNumbers(offsets: Uint32Array, items: Uint32Array, L: number): Uint32Array {
  const rows = new Uint32Array(offsets[KV_HEADS]!);
  for (let h = 0; h < KV_HEADS; h++) for (let e = offsets[h]!; e < offsets[h + 1]!; e++) rows[e] = h * L + items[e]!;
  return rows;
}

async function prefillRows(ctx: SuiteContext, plan: Plan, T = plan.prefillT): Promise<BenchRow[]> {
  const kv = cache(T, 99);
  const q = Tensor.random([T * HEADS * D], 5).data as Float32Array;
  const bs = 64;
  const dense = planBlockSparse({ T, heads: HEADS, blockSize: bs, pattern: { kind: 'causal' } });
  const qBlocks = Math.ceil(T / bs);
  // Keep about 1/8 of the causal blocks: sinks + local band sized to that density.
  const local = Math.max(1, Math.round((qBlocks + 1) / 16) - 1);
  const sparse = planBlockSparse({ T, heads: HEADS, blockSize: bs, pattern: { kind: 'local+sink', sinkBlocks: 1, localBlocks: local } });
  const out = new Float32Array(T * HEADS * D);
  ctx.log(`attention: prefill T=${T}: dense vs ${(sparse.density * 100).toFixed(1)}% of blocks`);
  const stats = await timeInterleaved(
    [() => runBlockSparse(dense, { q, kv, out }, { backend: 'cpu' }), () => runBlockSparse(sparse, { q, kv, out }, { backend: 'cpu' })],
    plan.prefillTiming,
  );
  const shape = `T=${T} H=${HEADS}/${KV_HEADS} D=${D} block=${bs}`;
  const flopsDense = 4 * HEADS * D * (T * (T + 1)) / 2; // QKᵀ and PV over the causal half
  const common = { op: 'prefillAttention', shape, dtype: 'f16', threads: ctx.threads };
  return [
    makeRow({ ...common, backend: 'causal dense', denseBaseline: true }, stats[0]!, { flops: flopsDense }),
    makeRow({ ...common, backend: 'local+sink', sparsity: 1 - sparse.density, note: `${(sparse.density * 100).toFixed(1)}% of causal blocks; GFLOP/s counts dense work` }, stats[1]!, { flops: flopsDense }),
  ];
}

async function run(ctx: SuiteContext) {
  const native = nativeBinding();
  if (!native) return { rows: [], summary: ['native addon not loaded: the attention suite measures native kernels only, nothing run'] };
  const plan = PLANS[ctx.tiny ? 'tiny' : ctx.quick ? 'quick' : 'full'];
  const buf = Tensor.random([plan.streamMiB * 2 ** 18], 7).data as Float32Array;
  adviseHugePages(buf);
  const stream = () => native.benchStreamRead(buf, ctx.threads);
  // A buffer of its own (a part of buf would leave the ceiling's first lines in L3), read to evict
  // the caches: 64 MiB, twice this machine's L3 (the tiny plan's small buffer size in tests).
  const evictBuf = Tensor.random([Math.min(buf.length, 16 * 2 ** 20)], 8).data as Float32Array;
  adviseHugePages(evictBuf);
  const evict = () => native.benchStreamRead(evictBuf, ctx.threads);
  const rows: BenchRow[] = [];
  const summary: string[] = [];
  const warm = await denseWarmRows(ctx, plan);
  rows.push(...warm);
  for (const L of plan.contexts) {
    const r = addRatios(await decodeRows(ctx, L, plan, stream, buf.byteLength, evict));
    rows.push(...r);
    const full = r.find((x) => x.backend === 'full' && x.dtype === 'f16')!;
    const full32 = r.find((x) => x.backend === 'full' && x.dtype === 'f32');
    const ofStream = (x: BenchRow) => `${x.medianMs.toFixed(2)} ms, ${x.gbps!.toFixed(1)} GB/s = ${((100 * x.gbps!) / x.ceiling!).toFixed(0)}% of stream read (${x.ceiling!.toFixed(1)} GB/s)`;
    const parts = [`L=${L}: dense ${ofStream(full)}${full32 ? `, with an f32 cache ${ofStream(full32)}` : ''}`];
    for (const b of ['quest', 'doubleSparsity', 'streaming', 'tidal reuse layer']) {
      const x = r.find((y) => y.backend === b)!;
      const sel = r.find((y) => y.op === 'selection' && y.backend === b);
      const split = sel ? ` (${x.medianMs.toFixed(2)} ms, selection ${sel.medianMs.toFixed(2)} ms = ${((100 * sel.medianMs) / x.medianMs).toFixed(0)}%, ${sel.gbps!.toFixed(1)} GB/s)` : '';
      parts.push(`${b} 1/16 ${x.ratioVsBestDense!.toFixed(2)}x${split}`);
    }
    summary.push(parts.join('; '));
    // What Double Sparsity would reach if its math and top-k were free and it read its rows as fast
    // as a plain read of them and its labels at the stream rate.
    const gather = r.find((x) => x.op === 'gatherRead')!;
    const ds = r.find((x) => x.backend === 'doubleSparsity')!;
    const dsSel = r.find((x) => x.op === 'selection' && x.backend === 'doubleSparsity')!;
    const labelsAtStream = (dsSel.gbps! * dsSel.medianMs) / full.ceiling!; // bytes / stream GB/s, in ms
    summary.push(
      `L=${L} doubleSparsity reads: a plain read of its K/V rows takes ${gather.medianMs.toFixed(2)} ms (${gather.gbps!.toFixed(1)} GB/s, ` +
        `${((100 * gather.gbps!) / full.ceiling!).toFixed(0)}% of stream), its labels at stream rate ${labelsAtStream.toFixed(2)} ms: ` +
        `${(full.medianMs / (gather.medianMs + labelsAtStream)).toFixed(2)}x dense if its math and top-k were free; measured ${ds.ratioVsBestDense!.toFixed(2)}x`,
    );
  }
  summary.push(
    `dense decode warm (L=${plan.warmContext}, cache in L2/L3: the kernel's arithmetic ceiling): ` +
      warm.map((x) => `${x.dtype} ${x.gbps!.toFixed(1)} GB/s`).join(', '),
  );
  const p = addRatios(await prefillRows(ctx, plan));
  rows.push(...p);
  summary.push(`prefill T=${plan.prefillT}: local+sink ${p[1]!.ratioVsBestDense!.toFixed(2)}x dense causal (${p[0]!.gflops!.toFixed(1)} GFLOP/s dense)`);
  if (plan.prefillLongT) {
    const pl = addRatios(await prefillRows(ctx, plan, plan.prefillLongT));
    rows.push(...pl);
    summary.push(`prefill T=${plan.prefillLongT}: local+sink ${pl[1]!.ratioVsBestDense!.toFixed(2)}x dense causal (${pl[0]!.gflops!.toFixed(1)} GFLOP/s dense; target 4x at 1/8 of blocks)`);
  }
  return { rows, summary };
}

export const attentionSuite: Suite = {
  name: 'attention',
  description: 'decode attention at long context (dense vs quest / doubleSparsity / streaming / tidal at 1/16) and block-sparse prefill',
  run,
};
