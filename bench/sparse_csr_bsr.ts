/**
 * The CSR / BSR suite: unstructured (CSR, and bitmap at 70% / 90%) and block-sparse (BSR) weights against the
 * best dense baseline measured in the same run (our dense matmul and onnxruntime-node's
 * MatMul, f32), on Llama-7B layer shapes.
 *  - decode (M=1): GB/s of weight traffic against the streaming-read ceiling, and the
 *    byte ceiling of the format (dense bytes / sparse bytes, the most a memory-bound
 *    kernel can gain);
 *  - prefill (M=256): effective GFLOP/s (2·M·N·K of the dense problem / time), the ceiling
 *    (effective GFLOP/s at the FMA rate dense reaches in the same rounds) and actual
 *    GFLOP/s (2·M·nnz / time).
 * Each shape's candidates run in interleaved rounds, so background load hits them alike.
 *
 * Run alone: `node dist/bench/run.js csr-bsr [--quick]` (after `npm run build:ts`).
 */
import { adviseStreamedStorage } from '../lib/backend/huge_pages';
import { nativeBinding } from '../lib/backend/native';
import { matmul, Tensor, toBitmap, toBsr, toCsr, type SparseMatrix } from '../lib/index';
import { createOrtLinear, loadOrt, type OrtLinear } from './baselines/ort';
import { inCacheGbps } from './in_cache';
import {
  addRatios,
  makeRow,
  timeInterleaved,
  type BenchRow,
  type Suite,
  type SuiteContext,
  type TimeOptions,
} from './harness';

/** A random [N, K] f32 weight (uniform values) with each element zeroed with probability `sparsity`. */
export function prunedWeight(N: number, K: number, sparsity: number, seed: number): Tensor {
  const w = Tensor.random([N, K], seed, 0.05);
  const d = w.data as Float32Array;
  let s = (seed * 2654435761) >>> 0 || 1;
  const cut = sparsity * 4294967296;
  for (let i = 0; i < d.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    if (s < cut) d[i] = 0;
  }
  return w;
}

/** Zeroes whole [br, bc] blocks with probability `sparsity` (the pattern block pruning leaves). */
export function blockPrunedWeight(N: number, K: number, br: number, bc: number, sparsity: number, seed: number): Tensor {
  const w = Tensor.random([N, K], seed, 0.05);
  const d = w.data as Float32Array;
  const KB = Math.ceil(K / bc);
  let s = (seed * 2654435761) >>> 0 || 1;
  const cut = sparsity * 4294967296;
  for (let rb = 0; rb < Math.ceil(N / br); rb++)
    for (let cb = 0; cb < KB; cb++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      if (s >= cut) continue;
      for (let n = rb * br; n < Math.min(N, rb * br + br); n++) d.fill(0, n * K + cb * bc, n * K + Math.min(K, cb * bc + bc));
    }
  return w;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return m === 0 ? d : d / m;
}

interface Candidate {
  label: string;
  sparsity: number;
  w: SparseMatrix;
  dense: Tensor;
}

async function benchShape(
  ctx: SuiteContext,
  M: number,
  N: number,
  K: number,
  candidates: Candidate[],
  timing: TimeOptions,
  ceiling: number | undefined,
): Promise<BenchRow[]> {
  const shape = `M=${M} N=${N} K=${K}`;
  const x = Tensor.random([M, K], 5);
  const denseW = Tensor.random([N, K], 6, 0.05);
  // The dense baseline gets the page policy the sparse formats apply to themselves (2 MiB pages).
  adviseStreamedStorage(denseW.data);
  let ort: OrtLinear | undefined;
  const l = loadOrt();
  if (!('error' in l)) {
    try {
      ort = await createOrtLinear(l.ort, 'MatMul', x.data as Float32Array, denseW.data as Float32Array, M, N, K, ctx.threads);
    } catch (e) {
      ctx.log(`ort MatMul failed for ${shape}: ${(e as Error).message}`);
    }
  }
  // Every sparse candidate must compute what the dense matmul of its own weight computes.
  for (const c of candidates) {
    const got = matmul(x, c.w, { backend: 'cpu' }).data as Float32Array;
    const want = matmul(x, c.dense, { backend: 'cpu' }).data as Float32Array;
    const diff = maxRelDiff(got, want);
    if (!(diff < 1e-4)) throw new Error(`${c.label} ${shape} disagrees with dense: max rel diff ${diff}`);
  }
  ctx.log(`csr/bsr: ${shape}: timing dense + ${ort ? 'ort + ' : ''}${candidates.length} sparse`);
  const fns: (() => unknown)[] = [() => matmul(x, denseW, { backend: 'cpu' })];
  if (ort) fns.push(() => ort.run());
  for (const c of candidates) fns.push(() => matmul(x, c.w, { backend: 'cpu' }));
  const stats = await timeInterleaved(fns, timing);
  const io = (M * K + M * N) * 4;
  const flops = 2 * M * N * K;
  const common = { op: 'matmul', shape, threads: ctx.threads };
  const withCeiling = (r: BenchRow) => (M === 1 && ceiling !== undefined ? Object.assign(r, { ceiling, ceilingKind: 'stream GB/s' }) : r);
  // Prefill: the real GFLOP/s (multiply-adds on stored values) beside the FMA rate our dense GEMM
  // reaches in the same rounds; the ceiling column is the effective GFLOP/s at that rate.
  const denseRate = flops / (stats[0]!.medianMs / 1e3) / 1e9;
  const rows: BenchRow[] = [
    withCeiling(makeRow({ ...common, dtype: 'f32', backend: 'cpu', denseBaseline: true }, stats[0]!, { bytes: denseW.bytes + io, flops })),
  ];
  if (ort)
    rows.push(
      withCeiling(
        makeRow({ ...common, dtype: 'f32', backend: ort.label, denseBaseline: true, note: 'onnxruntime-node' }, stats[1]!, {
          bytes: denseW.bytes + io,
          flops,
        }),
      ),
    );
  candidates.forEach((c, i) => {
    const st = stats[i + (ort ? 2 : 1)]!;
    const byteCeiling = (denseW.bytes + io) / (c.w.bytes + io);
    const real = (2 * M * c.w.nnz) / (st.medianMs / 1e3) / 1e9;
    const note =
      M === 1
        ? `byte ceiling vs f32 dense ${byteCeiling.toFixed(2)}x`
        : `actual ${real.toFixed(1)} GFLOP/s on stored values = ${((100 * real) / denseRate).toFixed(0)}% of dense's FMA rate (${denseRate.toFixed(1)})`;
    const row = makeRow({ ...common, dtype: c.w.dtype, sparsity: c.sparsity, backend: c.label, note }, st, { bytes: c.w.bytes + io, flops });
    if (M > 1) Object.assign(row, { ceiling: denseRate / (c.w.nnz / (N * K)), ceilingKind: 'eff. GFLOP/s at dense FMA rate' });
    rows.push(withCeiling(row));
  });
  if (ort) await ort.release();
  return rows;
}

/**
 * The sparsity where a format starts beating the best dense baseline, by linear
 * interpolation of the measured ratios (rows sorted by sparsity); undefined when it
 * never crosses 1 in the measured range.
 */
export function crossover(points: readonly { sparsity: number; ratio: number }[]): number | undefined {
  const p = [...points].sort((a, b) => a.sparsity - b.sparsity);
  if (p.length && p[0]!.ratio >= 1) return p[0]!.sparsity;
  for (let i = 1; i < p.length; i++) {
    const a = p[i - 1]!;
    const b = p[i]!;
    if (a.ratio < 1 && b.ratio >= 1) return a.sparsity + ((1 - a.ratio) / (b.ratio - a.ratio)) * (b.sparsity - a.sparsity);
  }
  return undefined;
}

/** One summary line per sweep: speedup against sparsity as a text bar chart, and the crossover point. */
function sweepLines(title: string, rows: readonly BenchRow[]): string[] {
  const pts = rows
    .filter((r) => r.backend === 'csr' && r.dtype === 'f32' && r.sparsity !== undefined && r.ratioVsBestDense !== undefined)
    .map((r) => ({ sparsity: r.sparsity!, ratio: r.ratioVsBestDense! }))
    .sort((a, b) => a.sparsity - b.sparsity);
  if (!pts.length) return [];
  const x = crossover(pts);
  const bars = pts.map((p) => `${(p.sparsity * 100).toFixed(0)}% ${'#'.repeat(Math.max(1, Math.round(p.ratio * 4)))} ${p.ratio.toFixed(2)}x`);
  return [
    `${title} CSR f32 sweep (speedup vs best dense, # = 0.25x): ${bars.join(' | ')}; ` +
      (x === undefined ? 'never faster than dense in this range' : `crossover at ~${(x * 100).toFixed(0)}% sparsity`),
  ];
}

/** The GB/s a decode row would have to stream to reach `target`x the best dense (same bytes, shorter time). */
function gbpsForTarget(r: BenchRow, target: number): number {
  return (r.gbps! * target) / r.ratioVsBestDense!;
}

/**
 * What limits decode, from this run's numbers: for each CSR f32 row, the speedup a target needs
 * against the byte ceiling, and the GB/s (and nonzeros/s) the kernel reached against what the
 * target requires, with the dense kernel's GB/s for scale.
 */
function decodeLimitLines(title: string, rows: readonly BenchRow[]): string[] {
  const dense = rows.find((r) => r.backend === 'cpu' && r.denseBaseline && r.dtype === 'f32');
  if (!dense?.gbps) return [];
  const targets: Record<string, number> = { '0.7': 2.5, '0.9': 5 };
  const out: string[] = [];
  for (const r of rows) {
    const target = r.sparsity === undefined ? undefined : targets[String(r.sparsity)];
    if (r.backend !== 'csr' || r.dtype !== 'f32' || target === undefined || !r.gbps || !r.ratioVsBestDense) continue;
    // bytes = GB/s x time; the best dense time is ratio x this row's time.
    const ceiling = (dense.gbps * dense.medianMs) / (r.gbps * r.medianMs);
    const needGbps = gbpsForTarget(r, target);
    const nnzRate = (r.gbps * 1e9) / 6 / 1e9; // f32 value + u16 index per nonzero
    out.push(
      `${title} CSR ${(r.sparsity! * 100).toFixed(0)}%: ${r.ratioVsBestDense.toFixed(2)}x (target ${target}x, byte ceiling ${ceiling.toFixed(2)}x); ` +
        (target > ceiling
          ? `the target is above the byte ceiling of f32 values + u16 indices, so no f32 CSR kernel can meet it`
          : `${r.ratioVsBestDense >= target ? 'met: ' : ''}the target needs ${needGbps.toFixed(1)} GB/s of CSR traffic, the kernel reached ${r.gbps.toFixed(1)} GB/s ` +
            `(${nnzRate.toFixed(2)} G nonzeros/s, each an index, a value and a random read of x from L1) while dense streamed ${dense.gbps.toFixed(1)} GB/s`),
    );
  }
  return out;
}

/**
 * Bitmap decode rows beside CSR at the same sparsity: the speedups, the byte ceilings, and the rate of
 * 16-column groups the kernel reached (each group costs a load, a vexpandps and an FMA whatever its
 * popcount, so at high sparsity the group rate, not memory, can be the limit).
 */
function bitmapLines(title: string, N: number, K: number, rows: readonly BenchRow[]): string[] {
  const out: string[] = [];
  const dense = rows.find((r) => r.backend === 'cpu' && r.denseBaseline && r.dtype === 'f32');
  // Issue 3's decode target for unstructured 70% (met by the bitmap format or not at all: CSR's byte ceiling is 2.22x).
  const targets: Record<string, number> = { '0.7': 2.5 };
  for (const r of rows) {
    if (r.backend !== 'bitmap' || r.sparsity === undefined || !r.ratioVsBestDense || !r.gbps) continue;
    const csr = rows.find((c) => c.backend === 'csr' && c.dtype === r.dtype && c.sparsity === r.sparsity);
    const groupsPerS = (N * Math.ceil(K / 16)) / (r.medianMs / 1e3) / 1e9;
    const target = r.dtype === 'f32' ? targets[String(r.sparsity)] : undefined;
    let targetNote = '';
    if (target !== undefined)
      targetNote =
        r.ratioVsBestDense >= target
          ? `; target ${target}x met`
          : `; target ${target}x not met: it needs ${gbpsForTarget(r, target).toFixed(1)} GB/s of bitmap traffic, ` +
            `the kernel streamed ${r.gbps.toFixed(1)}` +
            (dense?.gbps ? ` while dense streamed ${dense.gbps.toFixed(1)}` : '') +
            ` (per 16-column group and row: a 16-wide load, vexpandps and an FMA whatever the popcount)`;
    out.push(
      `${title} bitmap ${(r.sparsity * 100).toFixed(0)}%: ${r.ratioVsBestDense.toFixed(2)}x best dense (${r.note}), ${r.gbps.toFixed(1)} GB/s, ` +
        `${groupsPerS.toFixed(2)} G groups/s` +
        targetNote +
        (csr?.ratioVsBestDense ? `; CSR at the same sparsity ${csr.ratioVsBestDense.toFixed(2)}x (${csr.note})` : ''),
    );
  }
  return out;
}

/** What prefill at 90% needs against what it reached, in GFLOP/s on the stored values. */
function prefillLimitLines(title: string, rows: readonly BenchRow[]): string[] {
  const r = rows.find((x) => x.backend === 'csr' && x.dtype === 'f32' && x.sparsity === 0.9);
  if (!r?.gflops || !r.ratioVsBestDense) return [];
  const actual = r.gflops * (1 - r.sparsity!); // random pruning keeps ~(1 - sparsity) of the weights
  return [
    `${title} CSR 90%: ${r.ratioVsBestDense.toFixed(2)}x (target 3x) needs ${((actual * 3) / r.ratioVsBestDense).toFixed(1)} GFLOP/s ` +
      `on the stored values, the K-blocked packed kernel reached ${actual.toFixed(1)} (each nonzero: a broadcast and 2 FMAs on a ` +
      `128-byte row of a 512-column block of a 32-row X panel, 64 KB in L2; a row has ~51 nonzeros per block at 90%, so the ` +
      `per-block cost of each row (accumulators in and out of L2, the loop exit) is part of the limit)`,
  ];
}

/**
 * What bounds an unstructured decode row, measured: (1) a plain cold read of exactly the bytes the
 * kernel streams (native stream read at rotating offsets of a buffer far larger than L3, so it is
 * cold like the kernel's), and (2) the kernel's own rate with W in cache (bench/in_cache.ts: a
 * 256-row slice of the same K and sparsity). The kernel cannot beat either; the lower one is the bound.
 */
async function decodeLimit(
  ctx: SuiteContext,
  N: number,
  K: number,
  r: readonly BenchRow[],
  pool: Float32Array | undefined,
  backend: 'csr' | 'bitmap',
  sparsity: number,
  target: number,
): Promise<string[]> {
  const native = nativeBinding();
  const row = r.find((x) => x.backend === backend && x.dtype === 'f32' && x.sparsity === sparsity);
  if (!native || !pool || !row?.gbps || !row.ratioVsBestDense) return [];
  const bytes = (row.gbps * 1e9 * row.medianMs) / 1e3;
  const floats = Math.ceil(bytes / 4);
  let at = 0;
  const [read] = await timeInterleaved(
    [
      () => {
        at = (at + floats + 4096) % (pool.length - floats);
        return native.benchStreamRead(pool.subarray(at, at + floats), ctx.threads);
      },
    ],
    { warmup: 3, minRuns: 15, minTimeMs: 500 },
  );
  const sliceDense = prunedWeight(256, K, sparsity, 4242);
  const cacheGbps = await inCacheGbps(backend === 'csr' ? toCsr(sliceDense) : toBitmap(sliceDense));
  const readGbps = bytes / (read!.medianMs / 1e3) / 1e9;
  const needGbps = gbpsForTarget(row, target);
  const bound = cacheGbps < readGbps ? `the kernel's work per byte (${cacheGbps.toFixed(1)} GB/s in cache), not memory` : 'the memory stream';
  return [
    `decode limit (N=${N} K=${K} ${backend} ${(sparsity * 100).toFixed(0)}% f32): ${target}x needs ${needGbps.toFixed(1)} GB/s; the kernel ` +
      `streams ${row.gbps.toFixed(1)} GB/s; a plain cold read of the same ${(bytes / 2 ** 20).toFixed(1)} MiB reaches ${readGbps.toFixed(1)} GB/s; ` +
      `with W in cache (256 rows, L2) the kernel runs ${cacheGbps.toFixed(1)} GB/s of its bytes: the lower bound is ${bound}`,
  ];
}

async function run(ctx: SuiteContext) {
  const native = nativeBinding();
  if (!native) return { rows: [], summary: ['native addon not loaded: nothing run'] };
  const rows: BenchRow[] = [];
  const summary: string[] = [];

  let ceiling: number | undefined;
  // 256 MiB, far larger than L3: the stream-read ceiling, then the cold short reads of decodeLimit.
  const buf = typeof native.benchStreamRead === 'function' ? (Tensor.random([64 * 2 ** 20], 7).data as Float32Array) : undefined;
  if (buf) {
    adviseStreamedStorage(buf);
    const [st] = await timeInterleaved([() => native.benchStreamRead(buf, ctx.threads)], { warmup: 2, minRuns: 10, minTimeMs: 500 });
    const r = makeRow({ op: 'streamRead', shape: '256 MiB', dtype: 'f32', backend: 'cpu', threads: ctx.threads }, st!, {
      bytes: buf.byteLength,
    });
    rows.push(r);
    ceiling = r.gbps;
  }

  const decodeSparsities = ctx.quick ? [0.7, 0.9] : [0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
  const decodeShapes: [number, number][] = ctx.quick ? [[4096, 4096]] : [[4096, 4096], [11008, 4096]];
  const decodeTiming: TimeOptions = ctx.quick ? { warmup: 3, minRuns: 10, minTimeMs: 300 } : { warmup: 5, minRuns: 25, minTimeMs: 1500 };
  const pool = ctx.quick ? undefined : buf;
  for (const [N, K] of decodeShapes) {
    ctx.log(`csr/bsr: decode N=${N} K=${K}: building weights`);
    const cands: Candidate[] = [];
    for (const s of decodeSparsities) {
      const dense = prunedWeight(N, K, s, Math.round(s * 1000) + N);
      cands.push({ label: 'csr', sparsity: s, w: toCsr(dense), dense });
      if (!ctx.quick && (s === 0.7 || s === 0.9)) cands.push({ label: 'csr', sparsity: s, w: toCsr(dense, { dtype: 'bf16' }), dense: dense.to('bf16') });
      // Bitmap on the same pruned weight: 1/8 byte of mask per weight instead of 2 index bytes per kept one.
      if (s === 0.7 || s === 0.9) cands.push({ label: 'bitmap', sparsity: s, w: toBitmap(dense), dense });
    }
    if (!ctx.quick)
      for (const block of [
        [1, 16],
        [16, 1],
        [4, 4],
      ] as [number, number][]) {
        const dense = blockPrunedWeight(N, K, block[0], block[1], 0.9, 77);
        cands.push({ label: `bsr ${block[0]}x${block[1]}`, sparsity: 0.9, w: toBsr(dense, { block }), dense });
      }
    const r = addRatios(await benchShape(ctx, 1, N, K, cands, decodeTiming, ceiling));
    rows.push(...r);
    summary.push(
      ...sweepLines(`decode M=1 N=${N} K=${K}:`, r),
      ...decodeLimitLines(`decode N=${N} K=${K}`, r),
      ...(await decodeLimit(ctx, N, K, r, pool, 'csr', 0.9, 5)),
      ...(await decodeLimit(ctx, N, K, r, pool, 'bitmap', 0.7, 2.5)),
      ...bitmapLines(`decode N=${N} K=${K}`, N, K, r),
    );
    for (const row of r.filter((x) => x.sparsity !== undefined && x.dtype === 'f32'))
      summary.push(
        `decode N=${N} K=${K} ${row.backend} ${(row.sparsity! * 100).toFixed(0)}%: ${row.ratioVsBestDense!.toFixed(2)}x best dense, ` +
          `${row.gbps!.toFixed(1)} GB/s${ceiling ? ` (stream ${ceiling.toFixed(1)})` : ''}, ${row.note}`,
      );
  }

  const prefillTiming: TimeOptions = ctx.quick ? { warmup: 1, minRuns: 3, minTimeMs: 0 } : { warmup: 2, minRuns: 7, minTimeMs: 2000 };
  const prefillSparsities = ctx.quick ? [0.9] : [0.5, 0.7, 0.8, 0.9, 0.95];
  const prefillShapes: [number, number][] = ctx.quick ? [[4096, 4096]] : [[4096, 4096], [11008, 4096]];
  for (const [N, K] of prefillShapes) {
    const cands: Candidate[] = [];
    for (const s of prefillSparsities) {
      const dense = prunedWeight(N, K, s, Math.round(s * 1000) + N);
      cands.push({ label: 'csr', sparsity: s, w: toCsr(dense), dense });
      if (!ctx.quick && s === 0.9) cands.push({ label: 'bitmap', sparsity: s, w: toBitmap(dense), dense });
    }
    if (!ctx.quick) {
      const dense = blockPrunedWeight(N, K, 1, 16, 0.9, 78);
      cands.push({ label: 'bsr 1x16', sparsity: 0.9, w: toBsr(dense, { block: [1, 16] }), dense });
    }
    const r = addRatios(await benchShape(ctx, 256, N, K, cands, prefillTiming, undefined));
    rows.push(...r);
    summary.push(...sweepLines(`prefill M=256 N=${N} K=${K}:`, r), ...prefillLimitLines(`prefill M=256 N=${N} K=${K}`, r));
    for (const row of r.filter((x) => x.sparsity !== undefined))
      summary.push(
        `prefill M=256 N=${N} K=${K} ${row.backend} ${(row.sparsity! * 100).toFixed(0)}%: ${row.ratioVsBestDense!.toFixed(2)}x best dense, ` +
          `${row.gflops!.toFixed(1)} effective GFLOP/s, ${row.note}`,
      );
  }
  summary.push(
    'note: a 90% CSR matrix of 4096 x 4096 (10 MB) fits in this machine\'s 32 MB L3 while the dense one (64 MB) does not, ' +
      'so repeated calls on one matrix partly read it from L3; 11008 x 4096 (27 MB) is nearer what a model with many layers sees',
  );
  return { rows, summary };
}

export const sparseCsrBsrSuite: Suite = {
  name: 'csr-bsr',
  description: 'CSR and BSR decode / prefill vs the best dense baseline (ours, onnxruntime-node)',
  run,
};
