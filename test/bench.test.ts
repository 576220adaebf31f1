/** @jest-environment ./test/bench.environment.js */
/**
 * The benchmark harness: statistics on known samples, ratios, the ONNX model writer,
 * the report renderer, argument parsing, and one tiny run of the dense suite end to
 * end (our kernels, the stream-read ceiling and, when it loads, onnxruntime-node).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { attentionSuite } from '../bench/attention';
import { denseSuite } from '../bench/dense';
import { addRatios, formatTable, quantile, summarize, time, timeInterleaved, type BenchRow } from '../bench/harness';
import { linearModel } from '../bench/baselines/onnx_model';
import { loadOrt, transpose } from '../bench/baselines/ort';
import { machineInfo } from '../bench/machine';
import { readResults, renderReport, writeResult, type ResultDoc } from '../bench/report';
import { parseArgs } from '../bench/run';
import { nativeBinding } from '../lib/backend/native';
import { backendInfo, matmul, Tensor } from '../lib/index';
import { relError } from './helpers';

describe('harness statistics', () => {
  test('median and quantiles of known samples', () => {
    expect(quantile([5, 1, 3], 0.5)).toBe(3);
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    // numpy.quantile([10, 20, 30, 40, 50], 0.1) == 14
    expect(quantile([50, 10, 40, 20, 30], 0.1)).toBeCloseTo(14, 12);
    expect(quantile([50, 10, 40, 20, 30], 0.9)).toBeCloseTo(46, 12);
    const s = summarize([9, 1, 8, 2, 7, 3, 6, 4, 5]);
    expect(s).toMatchObject({ medianMs: 5, runs: 9 });
    expect(s.p10Ms).toBeCloseTo(1.8, 12);
    expect(s.p90Ms).toBeCloseTo(8.2, 12);
    expect(() => quantile([], 0.5)).toThrow(RangeError);
  });

  test('time() honours warm-up and run counts, and awaits async functions', async () => {
    let calls = 0;
    const st = await time(() => void calls++, { warmup: 3, minRuns: 7, minTimeMs: 0 });
    expect(st.runs).toBe(7);
    expect(calls).toBe(10);
    const slow = await time(() => new Promise((r) => setTimeout(r, 5)), { warmup: 0, minRuns: 3, minTimeMs: 0 });
    expect(slow.medianMs).toBeGreaterThanOrEqual(4);
  });

  test('timeInterleaved runs candidates in rounds', async () => {
    const order: string[] = [];
    await timeInterleaved([() => order.push('a'), () => order.push('b')], { warmup: 1, minRuns: 2, minTimeMs: 0 });
    expect(order.join('')).toBe('ababab');
  });

  test('ratios are against the fastest dense baseline of the same op and shape', () => {
    const row = (backend: string, medianMs: number, dense: boolean, shape = 's'): BenchRow => ({
      op: 'matmul', shape, dtype: 'f32', backend, threads: 1, medianMs, p10Ms: medianMs, p90Ms: medianMs, runs: 1, denseBaseline: dense,
    });
    const rows = addRatios([row('cpu', 10, true), row('ort', 8, true), row('nm', 4, false), row('cpu', 3, true, 'other')]);
    expect(rows.map((r) => r.ratioVsBestDense)).toEqual([0.8, 1, 2, 1]);
    expect(formatTable(rows)).toContain('2.00x');
  });
});

describe('ONNX model writer', () => {
  test('MatMul and Gemm(transB) models are well-formed and compute X · Wᵀ', async () => {
    const l = loadOrt();
    if ('error' in l) {
      console.warn(l.error);
      return;
    }
    const [M, K, N] = [3, 5, 4];
    const x = Tensor.random([M, K], 1);
    const w = Tensor.random([N, K], 2);
    const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
    for (const op of ['MatMul', 'Gemm'] as const) {
      const weight = op === 'MatMul' ? transpose(w.data as Float32Array, N, K) : (w.data as Float32Array);
      const s = await l.ort.InferenceSession.create(linearModel({ M, K, N, op, weight }));
      const out = await s.run({ X: new l.ort.Tensor('float32', x.data as Float32Array, [M, K]) });
      expect(out.Y!.dims).toEqual([M, N]);
      expect(relError(out.Y!.data as Float32Array, ref)).toBeLessThan(1e-6);
      await s.release();
    }
  });

  test('rejects a weight of the wrong size', () => {
    expect(() => linearModel({ M: 1, K: 2, N: 2, op: 'MatMul', weight: new Float32Array(3) })).toThrow(RangeError);
  });
});

describe('run.ts arguments', () => {
  test('parses suites and flags; quick runs are not saved unless asked', () => {
    expect(parseArgs(['dense', '--quick'])).toMatchObject({ names: ['dense'], quick: true, save: false, json: false });
    expect(parseArgs(['--quick', '--save', '--json', '--threads', '2'])).toMatchObject({ quick: true, save: true, json: true, threads: 2 });
    expect(parseArgs([])).toMatchObject({ names: [], quick: false, save: true });
    expect(() => parseArgs(['nope'])).toThrow(/unknown suite/);
    expect(() => parseArgs(['--threads', '0'])).toThrow(/positive integer/);
    expect(() => parseArgs(['--bogus'])).toThrow(/unknown option/);
  });
});

const describeNative = backendInfo().backend !== 'js' ? describe : describe.skip;

describeNative('benchStreamRead (the bandwidth baseline)', () => {
  const b = nativeBinding()!;
  test('returns the exact sum for any length and thread count', () => {
    for (const n of [0, 1, 15, 16, 63, 64, 65, 1000, 100003]) {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = (i % 17) - 8; // small integers: every partial sum is exact
      const want = a.reduce((s, v) => s + v, 0);
      for (const t of [1, 2, 3, 64]) expect(b.benchStreamRead(a, t)).toBe(want);
    }
  });

  test('bad arguments throw coded errors', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return 'no error';
    };
    const call = b.benchStreamRead as unknown as (...a: unknown[]) => number;
    expect(code(() => call(new Float64Array(4), 1))).toBe('ERR_DTYPE');
    expect(code(() => call([1, 2, 3], 1))).toBe('ERR_DTYPE');
    expect(code(() => call(new Float32Array(4), 0))).toBe('ERR_ARG');
    expect(code(() => call(new Float32Array(4), -1))).toBe('ERR_SHAPE');
    expect(code(() => call(new Float32Array(4), 'x'))).toBe('ERR_ARG');
    expect(code(() => call(new Float32Array(4)))).toBe('ERR_ARG');
  });
});

describeNative('dense suite, tiny run', () => {
  test('produces rows with positive times and throughputs, and a report', async () => {
    const threads = backendInfo().threads;
    const { rows, summary } = await denseSuite.run({ quick: true, tiny: true, threads, log: () => {} });
    const timed = rows.filter((r) => r.runs > 0);
    expect(timed.length).toBeGreaterThanOrEqual(1 + 3 + 3); // stream + GEMV dtypes + GEMM dtypes
    for (const r of timed) {
      expect(r.medianMs).toBeGreaterThan(0);
      expect(r.p10Ms).toBeLessThanOrEqual(r.medianMs);
      expect(r.p90Ms).toBeGreaterThanOrEqual(r.medianMs);
      expect(r.gbps).toBeGreaterThan(0);
      if (r.op === 'matmul') {
        expect(r.gflops).toBeGreaterThan(0);
        expect(r.ratioVsBestDense).toBeGreaterThan(0);
      }
    }
    expect(rows.find((r) => r.op === 'streamRead')).toBeDefined();
    expect(rows.filter((r) => r.backend === 'cpu' && r.op === 'matmul').map((r) => r.dtype).sort()).toEqual(['bf16', 'bf16', 'f16', 'f16', 'f32', 'f32']);
    if (!('error' in loadOrt())) expect(rows.some((r) => r.backend.startsWith('ort'))).toBe(true);
    expect(summary.join('\n')).toMatch(/of stream read \(\d+\.\d GB\/s/);

    // The JSON + RESULTS.md round trip, in a temp root (never the real bench/results).
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sparsenn-bench-'));
    try {
      const doc: ResultDoc = { suite: 'dense', date: new Date().toISOString(), quick: true, threads, machine: machineInfo(root), rows, summary };
      const file = writeResult(doc, root);
      expect(path.basename(file)).toMatch(/^\d{4}-\d\d-\d\d-dense-quick\.json$/);
      const back = readResults(root);
      expect(back).toHaveLength(1);
      const md = renderReport(back);
      expect(md).toContain('## dense (quick run)');
      expect(md).toContain('| streamRead |');
      expect(md).toContain(doc.machine.cpu);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describeNative('attention suite, tiny run', () => {
  test('times dense (f16 and f32 caches, cold and warm), the policies and prefill, each row with a throughput', async () => {
    const threads = backendInfo().threads;
    const { rows, summary } = await attentionSuite.run({ quick: true, tiny: true, threads, log: () => {} });
    for (const r of rows) {
      expect(r.medianMs).toBeGreaterThan(0);
      expect(r.p10Ms).toBeLessThanOrEqual(r.p90Ms);
      expect((r.gbps ?? 0) + (r.gflops ?? 0)).toBeGreaterThan(0);
    }
    const dense = rows.filter((r) => r.op === 'decodeAttention' && r.backend === 'full');
    expect(dense.map((r) => r.dtype).sort()).toEqual(['f16', 'f32']);
    expect(dense.find((r) => r.dtype === 'f16')!.denseBaseline).toBe(true);
    expect(dense.find((r) => r.dtype === 'f32')!.denseBaseline).toBeFalsy(); // the policies' ratios are against the f16 cache they read
    expect(rows.filter((r) => r.op === 'decodeAttentionWarm').map((r) => r.dtype).sort()).toEqual(['f16', 'f32']);
    for (const b of ['quest', 'doubleSparsity', 'streaming']) expect(rows.find((r) => r.backend === b)!.ratioVsBestDense).toBeGreaterThan(0);
    const text = summary.join('\n');
    expect(text).toMatch(/with an f32 cache [\d.]+ ms, [\d.]+ GB\/s = \d+% of stream read/);
    expect(text).toMatch(/dense decode warm \(L=256, .*\): f16 [\d.]+ GB\/s, f32 [\d.]+ GB\/s/);
  });
});
