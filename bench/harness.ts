/**
 * The benchmark harness: timing with warm-up and medians, result rows, ratios
 * against the best dense baseline, and the table printer. Suites (bench/<suite>.ts)
 * build on these and are registered in bench/run.ts.
 */

/** One measured configuration. Times are medians of timed runs after warm-up. */
export interface BenchRow {
  /** The operation, e.g. 'matmul' or 'streamRead'. */
  op: string;
  /** Human-readable sizes, e.g. 'M=1 N=4096 K=4096'. */
  shape: string;
  /** Weight storage type ('f32' | 'bf16' | 'f16'), or the element type of what is read. */
  dtype: string;
  /** Fraction of weights that are zero / skipped, for sparse formats (0..1). */
  sparsity?: number;
  /** Who ran it: 'cpu' (ours, dense), 'ort' (onnxruntime-node), 'js', or a sparse format name. */
  backend: string;
  /** True for rows that are dense baselines (ours or a third party); ratios are taken against the best of them. */
  denseBaseline?: boolean;
  threads: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  runs: number;
  /** Bytes moved per call / median time. */
  gbps?: number;
  /** 2·M·N·K (useful multiply-adds of the dense problem) / median time. */
  gflops?: number;
  /** The ceiling gbps / gflops is judged against (e.g. the streaming-read GB/s of this run). */
  ceiling?: number;
  /** What `ceiling` is, e.g. 'stream read GB/s'. */
  ceilingKind?: string;
  /** Best dense baseline median for the same op + shape / this row's median (> 1: faster than the best dense). */
  ratioVsBestDense?: number;
  /** Free-form remark (what the baseline was, why something was skipped). */
  note?: string;
}

export interface TimeOptions {
  /** Untimed calls first (caches, page faults, lazy init). */
  warmup?: number;
  /** At least this many timed calls. */
  minRuns?: number;
  /** Keep timing until this much time has been spent (and minRuns reached). */
  minTimeMs?: number;
  /** Never more than this many timed calls. */
  maxRuns?: number;
}

export interface TimeStats {
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  runs: number;
  samples: number[];
}

const DEFAULTS: Required<TimeOptions> = { warmup: 2, minRuns: 5, minTimeMs: 300, maxRuns: 200 };

/** The q-quantile (0..1) of samples, linear interpolation between order statistics (as numpy's default). */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) throw new RangeError('quantile of no samples');
  const s = [...samples].sort((a, b) => a - b);
  const pos = (s.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function summarize(samples: readonly number[]): TimeStats {
  return {
    medianMs: quantile(samples, 0.5),
    p10Ms: quantile(samples, 0.1),
    p90Ms: quantile(samples, 0.9),
    runs: samples.length,
    samples: [...samples],
  };
}

type Timed = () => unknown;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** Calls fn once and returns its wall time in ms; awaits it only if it returns a promise. */
async function once(fn: Timed): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = fn();
  if (isThenable(r)) await r;
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Times one function: warm-up, then timed calls until minRuns and minTimeMs are both met. */
export async function time(fn: Timed, opts: TimeOptions = {}): Promise<TimeStats> {
  return (await timeInterleaved([fn], opts))[0]!;
}

/**
 * Times several functions in rounds (each round calls every function once, in
 * turn), so background load on a shared machine hits all of them alike and their
 * ratio stays meaningful even when absolute times drift.
 */
export async function timeInterleaved(fns: readonly Timed[], opts: TimeOptions = {}): Promise<TimeStats[]> {
  const o = { ...DEFAULTS, ...opts };
  for (let i = 0; i < o.warmup; i++) for (const f of fns) await once(f);
  const samples: number[][] = fns.map(() => []);
  const start = Date.now();
  let rounds = 0;
  while (rounds < o.maxRuns && (rounds < o.minRuns || Date.now() - start < o.minTimeMs)) {
    for (let i = 0; i < fns.length; i++) samples[i]!.push(await once(fns[i]!));
    rounds++;
  }
  return samples.map(summarize);
}

/** A row from timing stats, with throughput derived from the work done per call. */
export function makeRow(
  base: Omit<BenchRow, 'medianMs' | 'p10Ms' | 'p90Ms' | 'runs'>,
  stats: TimeStats,
  work: { bytes?: number; flops?: number } = {},
): BenchRow {
  const row: BenchRow = { ...base, medianMs: stats.medianMs, p10Ms: stats.p10Ms, p90Ms: stats.p90Ms, runs: stats.runs };
  const s = stats.medianMs / 1e3;
  if (work.bytes !== undefined && s > 0) row.gbps = work.bytes / s / 1e9;
  if (work.flops !== undefined && s > 0) row.gflops = work.flops / s / 1e9;
  return row;
}

/** Fills ratioVsBestDense: for each op + shape, the fastest dense-baseline median over this row's median. */
export function addRatios(rows: BenchRow[]): BenchRow[] {
  const best = new Map<string, number>();
  for (const r of rows) {
    if (!r.denseBaseline) continue;
    const k = `${r.op}|${r.shape}`;
    const b = best.get(k);
    if (b === undefined || r.medianMs < b) best.set(k, r.medianMs);
  }
  for (const r of rows) {
    const b = best.get(`${r.op}|${r.shape}`);
    if (b !== undefined && r.medianMs > 0) r.ratioVsBestDense = b / r.medianMs;
  }
  return rows;
}

function fmt(v: number | undefined, digits: number): string {
  return v === undefined || !Number.isFinite(v) ? '' : v.toFixed(digits);
}

/** The columns shared by the console table and RESULTS.md. */
export function tableCells(rows: readonly BenchRow[]): string[][] {
  const head = ['op', 'shape', 'dtype', 'sparsity', 'backend', 'thr', 'median ms', 'p10–p90 ms', 'GB/s', 'GFLOP/s', 'ceiling', 'vs best dense', 'note'];
  const body = rows.map((r) => [
    r.op,
    r.shape,
    r.dtype,
    r.sparsity === undefined ? '' : `${(r.sparsity * 100).toFixed(0)}%`,
    r.backend,
    String(r.threads),
    fmt(r.medianMs, r.medianMs < 10 ? 3 : 1),
    `${fmt(r.p10Ms, r.p10Ms < 10 ? 3 : 1)}–${fmt(r.p90Ms, r.p90Ms < 10 ? 3 : 1)}`,
    fmt(r.gbps, 1),
    fmt(r.gflops, 1),
    r.ceiling === undefined ? '' : `${r.ceiling.toFixed(1)} ${r.ceilingKind ?? ''}`.trim(),
    r.ratioVsBestDense === undefined ? '' : `${r.ratioVsBestDense.toFixed(2)}x`,
    r.note ?? '',
  ]);
  return [head, ...body];
}

/** A fixed-width text table for the console. */
export function formatTable(rows: readonly BenchRow[]): string {
  const cells = tableCells(rows);
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((v, c) => v.padEnd(widths[c]!)).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** What every suite receives. */
export interface SuiteContext {
  /** Short run (the `npm start` demo): fewer shapes and runs. */
  quick: boolean;
  /** Test-sized shapes: checks the plumbing end to end; the numbers mean nothing. */
  tiny?: boolean;
  /** Native thread-pool size used for our kernels and for every baseline. */
  threads: number;
  /** Progress messages (stderr, so --json output stays clean). */
  log: (msg: string) => void;
}

/** A benchmark suite: bench/<name>.ts exports one and bench/run.ts lists it. */
export interface Suite {
  name: string;
  description: string;
  run(ctx: SuiteContext): Promise<SuiteResult>;
}

export interface SuiteResult {
  rows: BenchRow[];
  /** One-line conclusions printed under the table and kept in the JSON (e.g. '% of stream ceiling'). */
  summary: string[];
}
