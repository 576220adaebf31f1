/**
 * The dense suite: the baselines every sparse claim is measured against.
 *  - streamRead: a plain native streaming read (a sum) of a buffer far larger than L3,
 *    each worker reading its part as four side-by-side streams: the bandwidth this
 *    machine reaches right now (the ceiling for decode). It is timed in
 *    the same interleaved rounds as each GEMV shape, so kernel and ceiling see the
 *    same background load.
 *  - GEMV (M=1, decode) on Llama-7B-shaped weights, f32 / bf16 / f16: GB/s of weight
 *    traffic against that ceiling, and against onnxruntime-node's MatMul.
 *  - GEMM (M=256, prefill), f32 / bf16 / f16: GFLOP/s against onnxruntime-node's
 *    MatMul and Gemm(transB).
 * Candidates of one shape are timed in interleaved rounds, so background load on a
 * shared machine affects them alike.
 */
import { nativeBinding } from '../lib/backend/native';
import type { DType } from '../lib/dtype';
import { matmul, Tensor } from '../lib/index';
import { createOrtLinear, loadOrt, type OrtLinear } from './baselines/ort';
import { addRatios, makeRow, timeInterleaved, type BenchRow, type Suite, type SuiteContext, type TimeOptions } from './harness';

const DTYPES: readonly DType[] = ['f32', 'bf16', 'f16'];

/** Max |a-b| relative to max |b|: a cheap check that two candidates computed the same thing. */
function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return m === 0 ? d : d / m;
}

async function ortCandidates(
  ctx: SuiteContext,
  ops: readonly ('MatMul' | 'Gemm')[],
  x: Tensor,
  w: Tensor,
): Promise<{ ort: OrtLinear[]; note?: string }> {
  const l = loadOrt();
  if ('error' in l) return { ort: [], note: l.error };
  const [M, K] = x.shape as [number, number];
  const N = w.shape[0]!;
  const ort: OrtLinear[] = [];
  for (const op of ops) {
    try {
      ort.push(await createOrtLinear(l.ort, op, x.data as Float32Array, w.data as Float32Array, M, N, K, ctx.threads));
    } catch (e) {
      ctx.log(`ort ${op} failed for M=${M} N=${N} K=${K}: ${(e as Error).message}`);
    }
  }
  return { ort };
}

interface ShapeResult {
  rows: BenchRow[];
  ours: Map<DType, BenchRow>;
  ortBest?: BenchRow;
  stream?: BenchRow;
}

/** The bandwidth ceiling as a timed candidate: a plain streaming read of `buf`. */
interface StreamProbe {
  buf: Float32Array;
  run: () => number;
}

/** Times our dense matmul for every weight dtype and the ORT baselines on one shape, interleaved. */
async function benchShape(
  ctx: SuiteContext,
  M: number,
  N: number,
  K: number,
  ortOps: readonly ('MatMul' | 'Gemm')[],
  timing: TimeOptions,
  stream?: StreamProbe,
): Promise<ShapeResult> {
  const shape = `M=${M} N=${N} K=${K}`;
  ctx.log(`dense: ${shape}: generating weights`);
  const x = Tensor.random([M, K], 11);
  const w32 = Tensor.random([N, K], 12, 0.05);
  const weights = DTYPES.map((dt) => (dt === 'f32' ? w32 : w32.to(dt)));
  const { ort, note } = await ortCandidates(ctx, ortOps, x, w32);

  // Same computation check: ours (f32) against ORT on this very input.
  const ref = matmul(x, w32, { backend: 'cpu' }).data as Float32Array;
  for (const o of ort) {
    const diff = maxRelDiff(await o.run(), ref);
    if (!(diff < 1e-3)) throw new Error(`${o.label} and sparsenn disagree on ${shape}: max rel diff ${diff}`);
  }

  ctx.log(`dense: ${shape}: timing ${weights.length} dtypes + ${ort.length} ORT variants`);
  const fns = [...weights.map((w) => () => matmul(x, w, { backend: 'cpu' })), ...ort.map((o) => () => o.run())];
  const stats = await timeInterleaved(stream ? [...fns, stream.run] : fns, timing);
  const flops = 2 * M * N * K;
  const ioBytes = (M * K + M * N) * 4;
  const common = { op: 'matmul', shape, threads: ctx.threads };
  const rows: BenchRow[] = [];
  let streamRow: BenchRow | undefined;
  if (stream) {
    const mib = stream.buf.byteLength / 2 ** 20;
    streamRow = makeRow(
      { op: 'streamRead', shape: `${mib} MiB`, dtype: 'f32', backend: 'cpu', threads: ctx.threads, note: `timed with ${shape}` },
      stats[fns.length]!,
      { bytes: stream.buf.byteLength },
    );
    rows.push(streamRow);
  }
  const ceiling = streamRow?.gbps;
  const ours = new Map<DType, BenchRow>();
  weights.forEach((w, i) => {
    const row = makeRow({ ...common, dtype: w.dtype, backend: 'cpu', denseBaseline: w.dtype === 'f32' }, stats[i]!, {
      bytes: w.bytes + ioBytes,
      flops,
    });
    if (ceiling !== undefined) Object.assign(row, { ceiling, ceilingKind: 'stream GB/s' });
    ours.set(w.dtype, row);
    rows.push(row);
  });
  let ortBest: BenchRow | undefined;
  ort.forEach((o, i) => {
    const row = makeRow(
      { ...common, dtype: 'f32', backend: o.label, denseBaseline: true, note: 'onnxruntime-node, spinning off' },
      stats[weights.length + i]!,
      { bytes: w32.bytes + ioBytes, flops },
    );
    rows.push(row);
    if (!ortBest || row.medianMs < ortBest.medianMs) ortBest = row;
  });
  if (note) rows.push({ ...common, dtype: 'f32', backend: 'ort', medianMs: NaN, p10Ms: NaN, p90Ms: NaN, runs: 0, note });
  for (const o of ort) await o.release();
  return { rows, ours, ortBest, stream: streamRow };
}

const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(0)}%`;

interface Plan {
  streamMiB: number;
  gemv: [number, number][];
  gemm: [number, number, number];
  gemmOrt: ('MatMul' | 'Gemm')[];
  gemvTiming: TimeOptions;
  gemmTiming: TimeOptions;
}

/** Sizes and run counts: the full run, the `npm start` demo (< 60 s), and a plumbing check for tests. */
const PLANS: Record<'full' | 'quick' | 'tiny', Plan> = {
  full: {
    streamMiB: 256,
    gemv: [
      [4096, 4096], // Llama-7B attention projections
      [11008, 4096], // Llama-7B MLP up / gate
    ],
    gemm: [256, 4096, 4096],
    gemmOrt: ['MatMul', 'Gemm'],
    gemvTiming: { warmup: 5, minRuns: 30, minTimeMs: 2000 },
    gemmTiming: { warmup: 2, minRuns: 15, minTimeMs: 3000 },
  },
  quick: {
    streamMiB: 128,
    gemv: [[4096, 4096]],
    gemm: [256, 4096, 4096],
    gemmOrt: ['MatMul'],
    gemvTiming: { warmup: 3, minRuns: 10, minTimeMs: 300 },
    gemmTiming: { warmup: 1, minRuns: 3, minTimeMs: 0 },
  },
  tiny: {
    streamMiB: 4,
    gemv: [[96, 80]],
    gemm: [20, 48, 40],
    gemmOrt: ['MatMul', 'Gemm'],
    gemvTiming: { warmup: 1, minRuns: 3, minTimeMs: 0 },
    gemmTiming: { warmup: 1, minRuns: 3, minTimeMs: 0 },
  },
};

async function run(ctx: SuiteContext) {
  const native = nativeBinding();
  if (!native) {
    return { rows: [], summary: ['native addon not loaded: the dense suite measures native kernels only, nothing run'] };
  }
  const plan = PLANS[ctx.tiny ? 'tiny' : ctx.quick ? 'quick' : 'full'];
  const rows: BenchRow[] = [];
  const summary: string[] = [];

  // 1. The bandwidth ceiling: a streaming read much larger than the last-level cache,
  // timed together with each GEMV shape.
  const buf = Tensor.random([plan.streamMiB * 2 ** 18], 7).data as Float32Array;
  const threads = ctx.threads;
  const probe: StreamProbe = { buf, run: () => native.benchStreamRead(buf, threads) };

  // 2. Decode: GEMV (M = 1).
  for (const [N, K] of plan.gemv) {
    const r = await benchShape(ctx, 1, N, K, ['MatMul'], plan.gemvTiming, probe);
    rows.push(...r.rows);
    const ceiling = r.stream!.gbps!;
    const f32 = r.ours.get('f32')!;
    const parts = [
      `GEMV N=${N} K=${K}: f32 ${f32.gbps!.toFixed(1)} GB/s = ${pct(f32.gbps!, ceiling)} of stream read (${ceiling.toFixed(1)} GB/s, same rounds)`,
    ];
    for (const dt of ['bf16', 'f16'] as const) {
      const row = r.ours.get(dt)!;
      parts.push(`${dt} ${(f32.medianMs / row.medianMs).toFixed(2)}x faster than f32 (${pct(row.gbps!, ceiling)} of stream)`);
    }
    if (r.ortBest) parts.push(`f32 ${(r.ortBest.medianMs / f32.medianMs).toFixed(2)}x the speed of ${r.ortBest.backend}`);
    summary.push(parts.join('; '));
  }

  // 3. Prefill: GEMM.
  const [M, N, K] = plan.gemm;
  const g = await benchShape(ctx, M, N, K, plan.gemmOrt, plan.gemmTiming);
  rows.push(...g.rows);
  const f32 = g.ours.get('f32')!;
  const gemmParts = [`GEMM M=${M} N=${N} K=${K}: f32 ${f32.gflops!.toFixed(1)} GFLOP/s`];
  if (g.ortBest)
    gemmParts.push(`${(g.ortBest.medianMs / f32.medianMs).toFixed(2)}x the throughput of ${g.ortBest.backend} (${g.ortBest.gflops!.toFixed(1)} GFLOP/s)`);
  for (const dt of ['bf16', 'f16'] as const) gemmParts.push(`${dt} weights ${g.ours.get(dt)!.gflops!.toFixed(1)} GFLOP/s`);
  summary.push(gemmParts.join('; '));

  return { rows: addRatios(rows), summary };
}

export const denseSuite: Suite = {
  name: 'dense',
  description: 'stream-read ceiling, dense GEMV (decode) and GEMM (prefill) vs onnxruntime-node',
  run,
};
