/**
 * The sparsity sweep, and the `npm start` demo: decode (M=1) on a Llama-7B attention
 * projection (4096 x 4096), every weight format side by side in one table, each timed in
 * the same interleaved rounds as the dense baselines (our dense kernel, onnxruntime-node's
 * MatMul and our dense bf16 kernel), so background load hits them alike.
 *  - CSR f32, bitmap f32 and BSR 1x16 over sparsity 0.5 ... 0.95 (full run: also CSR bf16, whose ratio
 *    is against dense bf16, op 'matmul bf16', as a bf16 user would compare);
 *  - N:M at the sparsities its patterns fix (2:4 and 4:8 = 50%, 1:4 and 2:8 = 75%);
 *  - sparse activations: a dense W times an input that is 90% zeros (x = the input's zeros).
 * Per series: the crossover sparsity against the best dense baseline, and the chart
 * (sweepChartSvg) of speedup against sparsity that bench/run.ts writes next to the JSON.
 * The weights are synthetic (uniform values, random masks), like the other kernel suites:
 * speed depends on shape, sparsity and pattern, not on the values.
 */
import { adviseStreamedStorage } from '../lib/backend/huge_pages';
import { nativeBinding } from '../lib/backend/native';
import { matmul, prepareInputSparse, Tensor, toBitmap, toBsr, toCsr, toNm, type InputSparseWeight, type SparseMatrix } from '../lib/index';
import { createOrtLinear, loadOrt, type OrtLinear } from './baselines/ort';
import { lineChartSvg, type ChartSeries } from './chart';
import { addRatios, makeRow, timeInterleaved, type BenchRow, type Suite, type SuiteContext, type TimeOptions } from './harness';
import type { ResultDoc } from './report';
import { blockPrunedWeight, crossover, prunedWeight } from './sparse_csr_bsr';
import { nmWeight } from './sparse_nm';

interface Plan {
  N: number;
  K: number;
  csrSparsities: number[];
  csrBf16Sparsities: number[];
  /** Bitmap (16-bit mask per 16 columns + packed f32 values), on the same pruned weights as CSR. */
  bitmapSparsities: number[];
  bsrSparsities: number[];
  nmPatterns: [number, number][];
  timing: TimeOptions;
  streamMiB: number;
}

const ALL = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
const PLANS: Record<'full' | 'quick' | 'tiny', Plan> = {
  full: {
    N: 4096,
    K: 4096,
    csrSparsities: ALL,
    csrBf16Sparsities: ALL,
    bitmapSparsities: ALL,
    bsrSparsities: ALL,
    nmPatterns: [[2, 4], [4, 8], [1, 4], [2, 8]],
    timing: { warmup: 3, minRuns: 30, minTimeMs: 6000 },
    streamMiB: 256,
  },
  quick: {
    N: 4096,
    K: 4096,
    csrSparsities: ALL,
    csrBf16Sparsities: [],
    bitmapSparsities: [0.5, 0.7, 0.9, 0.95],
    bsrSparsities: [0.5, 0.7, 0.9, 0.95],
    nmPatterns: [[2, 4], [1, 4]],
    timing: { warmup: 2, minRuns: 15, minTimeMs: 1500 },
    streamMiB: 128,
  },
  tiny: {
    N: 48,
    K: 160,
    csrSparsities: [0.5, 0.9],
    csrBf16Sparsities: [0.9],
    bitmapSparsities: [0.5, 0.9],
    bsrSparsities: [0.9],
    nmPatterns: [[2, 4], [1, 4]],
    timing: { warmup: 1, minRuns: 2, minTimeMs: 0 },
    streamMiB: 1,
  },
};

/** The display name of a row's format in the table's `backend` column, the chart and the summary. */
const BSR_BLOCK: [number, number] = [1, 16];

interface Candidate {
  backend: string;
  op: 'matmul' | 'matmul bf16';
  dtype: string;
  sparsity: number;
  w: SparseMatrix | InputSparseWeight;
  /** Weight + activation bytes one call must read (the memory-bound cost). */
  bytes: number;
  /** Inputs to rotate through (sparse activations use several, so the selected columns are not all cached). */
  xs: Tensor[];
  note: string;
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Every candidate must compute what the dense product of its own weight computes (f32 1e-5; bf16 values are rounded in both). */
function check(c: Candidate, x: Tensor, dense: Tensor): void {
  const d = relDiff(matmul(x, c.w, { backend: 'cpu' }).data as Float32Array, matmul(x, dense, { backend: 'cpu' }).data as Float32Array);
  if (!(d < 1e-5)) throw new Error(`sweep: ${c.backend} ${c.dtype} ${(c.sparsity * 100).toFixed(0)}% disagrees with dense: ${d}`);
}

/** `count` inputs [1, K], each entry zero with probability `zeros`, each with different nonzeros. */
function sparseInputs(K: number, zeros: number, count: number): Tensor[] {
  return Array.from({ length: count }, (_, c) => {
    const x = Tensor.random([1, K], 300 + c);
    const mask = prunedWeight(1, K, zeros, 400 + c).data as Float32Array;
    const d = x.data as Float32Array;
    for (let i = 0; i < K; i++) if (mask[i] === 0) d[i] = 0;
    return x;
  });
}

async function ortFor(ctx: SuiteContext, x: Tensor, w: Tensor, N: number, K: number): Promise<OrtLinear | undefined> {
  const l = loadOrt();
  if ('error' in l) {
    ctx.log(l.error);
    return undefined;
  }
  try {
    return await createOrtLinear(l.ort, 'MatMul', x.data as Float32Array, w.data as Float32Array, 1, N, K, ctx.threads);
  } catch (e) {
    ctx.log(`ort MatMul failed: ${(e as Error).message}`);
    return undefined;
  }
}

/** Builds the candidates one at a time, so only one dense copy of a pruned weight is alive at once. */
function buildCandidates(p: Plan, x: Tensor, io: number): Candidate[] {
  const { N, K } = p;
  const out: Candidate[] = [];
  const denseBytes = N * K * 4 + io;
  const add = (c: Omit<Candidate, 'xs' | 'note'> & { xs?: Tensor[] }, dense: Tensor, baseBytes = denseBytes) => {
    const cand: Candidate = { ...c, xs: c.xs ?? [x], note: `byte ceiling ${(baseBytes / c.bytes).toFixed(2)}x` };
    check(cand, cand.xs[0]!, dense);
    out.push(cand);
  };
  for (const s of p.csrSparsities) {
    const dense = prunedWeight(N, K, s, Math.round(s * 1000) + N);
    const w = toCsr(dense);
    add({ backend: 'csr', op: 'matmul', dtype: 'f32', sparsity: s, w, bytes: w.bytes + io }, dense);
    if (p.csrBf16Sparsities.includes(s)) {
      const wb = toCsr(dense, { dtype: 'bf16' });
      add({ backend: 'csr', op: 'matmul bf16', dtype: 'bf16', sparsity: s, w: wb, bytes: wb.bytes + io }, dense.to('bf16'), N * K * 2 + io);
    }
    if (p.bitmapSparsities.includes(s)) {
      const wm = toBitmap(dense);
      add({ backend: 'bitmap', op: 'matmul', dtype: 'f32', sparsity: s, w: wm, bytes: wm.bytes + io }, dense);
    }
  }
  for (const s of p.bsrSparsities) {
    const dense = blockPrunedWeight(N, K, BSR_BLOCK[0], BSR_BLOCK[1], s, 77 + Math.round(s * 100));
    const w = toBsr(dense, { block: BSR_BLOCK });
    add({ backend: `bsr ${BSR_BLOCK[0]}x${BSR_BLOCK[1]}`, op: 'matmul', dtype: 'f32', sparsity: s, w, bytes: w.bytes + io }, dense);
  }
  for (const [n, m] of p.nmPatterns) {
    const dense = nmWeight(N, K, n, m, 10 * n + m);
    const w = toNm(dense, { n, m });
    add({ backend: `nm ${n}:${m}`, op: 'matmul', dtype: 'f32', sparsity: 1 - n / m, w, bytes: w.bytes + io }, dense);
  }
  const dense = Tensor.random([N, K], 6, 0.05);
  const xs = sparseInputs(K, 0.9, 8);
  const nz = xs.reduce((a, t) => a + (t.data as Float32Array).filter((v) => v !== 0).length, 0) / xs.length;
  add({ backend: 'input-sparse', op: 'matmul', dtype: 'f32', sparsity: 1 - nz / K, w: prepareInputSparse(dense), bytes: nz * N * 4 + io, xs }, dense);
  return out;
}

async function run(ctx: SuiteContext) {
  const native = nativeBinding();
  if (!native) return { rows: [], summary: ['native addon not loaded: nothing run'] };
  const p = PLANS[ctx.tiny ? 'tiny' : ctx.quick ? 'quick' : 'full'];
  const { N, K } = p;
  const rows: BenchRow[] = [];

  const shape = `M=1 N=${N} K=${K}`;
  const io = (K + N) * 4;
  const x = Tensor.random([1, K], 5);
  ctx.log(`sweep: ${shape}: building and checking the sparse weights`);
  const cands = buildCandidates(p, x, io);
  const dense = Tensor.random([N, K], 6, 0.05);
  const denseBf16 = dense.to('bf16');
  // The dense baselines get the page policy the sparse formats apply to themselves (2 MiB pages).
  adviseStreamedStorage(dense.data, denseBf16.data);
  const ort = await ortFor(ctx, x, dense, N, K);

  // The streaming-read ceiling is timed in the same rounds as the kernels, so it sees the same load.
  const stream = typeof native.benchStreamRead === 'function' ? (Tensor.random([p.streamMiB * 2 ** 18], 7).data as Float32Array) : undefined;
  if (stream) adviseStreamedStorage(stream);
  const fns: (() => unknown)[] = [() => matmul(x, dense, { backend: 'cpu' }), () => matmul(x, denseBf16, { backend: 'cpu' })];
  if (stream) fns.push(() => native.benchStreamRead(stream, ctx.threads));
  if (ort) fns.push(() => ort.run());
  for (const c of cands) {
    let turn = 0;
    fns.push(() => matmul(c.xs[turn++ % c.xs.length]!, c.w, { backend: 'cpu' }));
  }
  ctx.log(`sweep: ${shape}: timing ${fns.length} candidates in interleaved rounds`);
  const stats = await timeInterleaved(fns, p.timing);
  if (ort) await ort.release();

  const streamStats = stream ? stats.splice(2, 1)[0] : undefined;
  let ceiling: number | undefined;
  if (stream && streamStats) {
    const r = makeRow({ op: 'streamRead', shape: `${p.streamMiB} MiB`, dtype: 'f32', backend: 'cpu', threads: ctx.threads }, streamStats, { bytes: stream.byteLength });
    rows.push(r);
    ceiling = r.gbps;
  }
  const common = { shape, threads: ctx.threads };
  const withCeiling = (r: BenchRow) => (ceiling !== undefined ? Object.assign(r, { ceiling, ceilingKind: 'stream GB/s' }) : r);
  const timed: BenchRow[] = [
    makeRow({ ...common, op: 'matmul', dtype: 'f32', backend: 'cpu', denseBaseline: true }, stats[0]!, { bytes: dense.bytes + io }),
    makeRow({ ...common, op: 'matmul bf16', dtype: 'bf16', backend: 'cpu', denseBaseline: true }, stats[1]!, { bytes: denseBf16.bytes + io }),
  ];
  if (ort) timed.push(makeRow({ ...common, op: 'matmul', dtype: 'f32', backend: ort.label, denseBaseline: true, note: 'onnxruntime-node' }, stats[2]!, { bytes: dense.bytes + io }));
  const first = ort ? 3 : 2;
  cands.forEach((c, i) =>
    timed.push(makeRow({ ...common, op: c.op, dtype: c.dtype, sparsity: c.sparsity, backend: c.backend, note: c.note }, stats[first + i]!, { bytes: c.bytes })),
  );
  rows.push(...addRatios(timed).map(withCeiling));
  return { rows, summary: sweepSummary(rows) };
}

/** A series name for a sweep row: format and value type (and, for bf16, that its ratio is against dense bf16). */
function seriesName(r: BenchRow): string {
  if (r.backend === 'input-sparse') return 'sparse activations (x = input zeros)';
  if (r.backend.startsWith('nm ')) return `N:M ${r.dtype}`;
  const name = `${r.backend.replace(/^(csr|bsr)/, (f) => f.toUpperCase())} ${r.dtype}`;
  return r.op === 'matmul bf16' ? `${name} (vs dense bf16)` : name;
}

/** The sparse rows of a sweep, grouped into chart series (N:M and sparse activations as markers at their fixed sparsities). */
export function sweepSeries(rows: readonly BenchRow[]): ChartSeries[] {
  const groups = new Map<string, ChartSeries & { points: { x: number; y: number; label?: string }[] }>();
  for (const r of rows) {
    if (r.sparsity === undefined || r.ratioVsBestDense === undefined || r.denseBaseline || !r.shape.startsWith('M=1 ')) continue;
    const label = seriesName(r);
    const markersOnly = r.backend.startsWith('nm ') || r.backend === 'input-sparse';
    const g = groups.get(label) ?? { label, markersOnly, points: [] };
    g.points.push({ x: r.sparsity, y: r.ratioVsBestDense, label: r.backend.startsWith('nm ') ? r.backend.slice(3) : undefined });
    groups.set(label, g);
  }
  return [...groups.values()];
}

/** Crossover sparsity and the best speedup of each series, and the best dense baselines they were measured against. */
export function sweepSummary(rows: readonly BenchRow[]): string[] {
  const out: string[] = [];
  const best = (op: string) =>
    rows.filter((r) => r.op === op && r.denseBaseline).reduce<BenchRow | undefined>((a, r) => (a && a.medianMs <= r.medianMs ? a : r), undefined);
  for (const op of ['matmul', 'matmul bf16']) {
    const b = best(op);
    if (b) out.push(`best dense ${op === 'matmul' ? 'f32' : 'bf16'} baseline: ${b.backend} ${b.medianMs.toFixed(3)} ms (${b.gbps?.toFixed(1) ?? '?'} GB/s${b.ceiling ? ` of ${b.ceiling.toFixed(1)} stream` : ''})`);
  }
  // Flags that say how far to trust this run: a wide spread on the dense baseline (the machine was busy), and
  // speedups above the byte ceiling (a memory-bound kernel cannot beat it unless the load disturbed the baseline
  // or the matrix was partly served from cache).
  for (const r of rows.filter((x) => x.denseBaseline && x.p10Ms > 0 && x.p90Ms / x.p10Ms > 1.5))
    out.push(`noisy: ${r.backend} ${r.dtype} dense p10-p90 ${r.p10Ms.toFixed(2)}-${r.p90Ms.toFixed(2)} ms (${(r.p90Ms / r.p10Ms).toFixed(1)}x spread); the machine was busy, ratios are indicative`);
  for (const r of rows) {
    const ceiling = Number(/byte ceiling ([\d.]+)x/.exec(r.note ?? '')?.[1]);
    if (r.ratioVsBestDense !== undefined && ceiling > 0 && r.ratioVsBestDense > ceiling * 1.05)
      out.push(
        `${r.backend} ${r.dtype} ${((r.sparsity ?? 0) * 100).toFixed(0)}%: ${r.ratioVsBestDense.toFixed(2)}x is above its byte ceiling ${ceiling.toFixed(2)}x ` +
          '(load slowed the dense baseline, or part of the sparse matrix stayed in cache)',
      );
  }
  for (const s of sweepSeries(rows)) {
    const pts = s.points.map((p) => ({ sparsity: p.x, ratio: p.y })).sort((a, b) => a.sparsity - b.sparsity);
    const speedups = s.points
      .slice()
      .sort((a, b) => a.x - b.x)
      .map((p) => `${p.label ? `${p.label} ` : ''}${(p.x * 100).toFixed(0)}% ${p.y.toFixed(2)}x`)
      .join(', ');
    if (s.markersOnly) {
      out.push(`${s.label}: ${speedups}`);
      continue;
    }
    const x = crossover(pts);
    const at =
      x === undefined
        ? 'never faster than the best dense in this range'
        : x <= pts[0]!.sparsity
          ? `faster than the best dense from the lowest sparsity measured (${(pts[0]!.sparsity * 100).toFixed(0)}%)`
          : `crossover with the best dense at ~${(x * 100).toFixed(0)}% sparsity`;
    out.push(`${s.label}: ${at}; ${speedups}`);
  }
  return out;
}

/** The speedup-against-sparsity chart of a sweep run (undefined when it has no sparse rows). */
export function sweepChartSvg(doc: Pick<ResultDoc, 'rows' | 'date' | 'machine' | 'threads' | 'quick'>): string | undefined {
  const series = sweepSeries(doc.rows);
  if (!series.length) return undefined;
  const shape = doc.rows.find((r) => r.sparsity !== undefined)?.shape ?? '';
  const m = doc.machine;
  return lineChartSvg(series, {
    title: `Decode speedup vs best dense, ${shape.replace(/^M=1 /, '')}${doc.quick ? ' (quick run)' : ''}`,
    xLabel: 'sparsity (fraction of weights, or of input values, that are zero)',
    yLabel: 'speedup vs best dense (log scale)',
    logY: true,
    xDomain: [0.45, 1],
    xTick: (x) => `${Math.round(x * 100)}%`,
    yTick: (y) => `${y}x`,
    reference: { y: 1, label: '1.0x = best dense' },
    caption:
      `${doc.date.slice(0, 16).replace('T', ' ')} UTC, M=1 (batch-1 decode), medians of interleaved rounds; ${doc.threads} threads; best dense = faster of ours and onnxruntime-node\n` +
      `${m.cpu}, ${m.cores} cores, simd ${m.simd}, node ${m.node}, commit ${m.commit}` +
      (m.loadAverage !== undefined ? `, load average ${m.loadAverage}` : ''),
  });
}

export const sweepSuite: Suite = {
  name: 'sweep',
  description: 'decode speedup vs best dense over sparsity 0.5-0.95 per format (CSR, BSR, N:M, sparse activations), with a chart; the npm start demo',
  run,
};
