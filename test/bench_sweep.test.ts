/** @jest-environment ./test/bench.environment.js */
/**
 * The SVG chart writer (parsed back as text: series, axis labels, finite coordinates), the
 * sweep's series and summary from known rows, and one tiny end-to-end demo run through
 * bench/run.ts (`--quick` with the tiny plan): rows for dense and every sparse format, and
 * an SVG written where --chart says, never into bench/results.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { escapeXml, linearTicks, lineChartSvg, log2Ticks, type ChartSeries } from '../bench/chart';
import type { BenchRow } from '../bench/harness';
import { machineInfo } from '../bench/machine';
import { renderReport, resultsDir } from '../bench/report';
import { DEMO_SUITES, main, parseArgs } from '../bench/run';
import { sweepChartSvg, sweepSeries, sweepSuite, sweepSummary } from '../bench/sweep';
import { backendInfo } from '../lib/index';

/** Every number in the coordinate attributes of the SVG. */
function coordinates(svg: string): number[] {
  const out: number[] = [];
  for (const m of svg.matchAll(/\s(?:x|y|x1|y1|x2|y2|cx|cy|width|height)="([^"]*)"/g)) out.push(Number(m[1]));
  for (const m of svg.matchAll(/points="([^"]*)"/g)) for (const v of m[1]!.split(/[ ,]/)) out.push(Number(v));
  return out;
}

/** Tags open and close in order (a well-formedness check good enough for our own output). */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (m[3] === '/') continue;
    if (m[1] === '/') {
      if (stack.pop() !== m[2]) return false;
    } else stack.push(m[2]!);
  }
  return stack.length === 0;
}

const SERIES: ChartSeries[] = [
  { label: 'CSR f32', points: [{ x: 0.5, y: 0.6 }, { x: 0.7, y: 1.3 }, { x: 0.9, y: 3.9 }, { x: 0.95, y: 6.1 }] },
  { label: 'BSR 1x16 <f32> & co', points: [{ x: 0.9, y: 4.2 }, { x: 0.7, y: 2.1 }] },
  { label: 'N:M f32', markersOnly: true, points: [{ x: 0.5, y: 1.5, label: '2:4' }, { x: 0.75, y: 1.2, label: '1:4' }] },
];

describe('SVG line chart', () => {
  test('has the title, axis labels, a legend entry and a group per series, and only finite coordinates', () => {
    for (const logY of [true, false]) {
      const svg = lineChartSvg(SERIES, {
        title: 'Speedup',
        xLabel: 'sparsity',
        yLabel: 'speedup vs best dense',
        logY,
        xDomain: [0.45, 1],
        xTick: (x) => `${Math.round(x * 100)}%`,
        reference: { y: 1, label: 'dense' },
        caption: 'line one\nline two',
      });
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(balanced(svg)).toBe(true);
      expect(svg).toContain('>sparsity</text>');
      expect(svg).toContain('>speedup vs best dense</text>');
      expect(svg).toContain('class="reference"');
      expect(svg).toContain('>line two</text>');
      expect(svg).toContain('>90%</text>');
      for (const s of SERIES) expect(svg).toMatch(new RegExp(`class="legend"[^>]*>${escapeXml(s.label).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}</text>`));
      expect(svg).toContain('data-label="BSR 1x16 &lt;f32&gt; &amp; co"'); // escaped, not raw markup
      expect(svg.match(/<g class="series"/g)).toHaveLength(3);
      expect(svg.match(/<polyline/g)).toHaveLength(2); // N:M is markers only
      expect(svg.match(/<circle/g)).toHaveLength(6);
      expect(svg).toContain('>2:4</text>');
      const c = coordinates(svg);
      expect(c.length).toBeGreaterThan(40);
      for (const v of c) expect(Number.isFinite(v)).toBe(true);
      // Inside the canvas.
      for (const v of c) expect(v).toBeGreaterThanOrEqual(0);
    }
  });

  test('higher speedups are drawn higher, and x grows to the right', () => {
    const svg = lineChartSvg([SERIES[0]!], { title: 't', xLabel: 'x', yLabel: 'y', logY: true });
    const pts = [...svg.matchAll(/<circle cx="([^"]+)" cy="([^"]+)"/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    expect(pts).toHaveLength(4);
    for (let i = 1; i < pts.length; i++) {
      expect(pts[i]![0]).toBeGreaterThan(pts[i - 1]![0]);
      expect(pts[i]![1]).toBeLessThan(pts[i - 1]![1]);
    }
  });

  test('point labels that would cover each other move apart (1:4 and 2:8 share x = 75%)', () => {
    const nm: ChartSeries = {
      label: 'N:M',
      markersOnly: true,
      points: [{ x: 0.75, y: 1.3, label: '1:4' }, { x: 0.75, y: 1.31, label: '2:8' }, { x: 0.5, y: 1.6, label: '2:4' }],
    };
    const svg = lineChartSvg([nm], { title: 't', xLabel: 'x', yLabel: 'y' });
    const labels = [...svg.matchAll(/<text x="([^"]+)" y="([^"]+)"[^>]*>(1:4|2:8|2:4)</g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]), t: m[3] }));
    expect(labels.map((l) => l.t).sort()).toEqual(['1:4', '2:4', '2:8']);
    const [a, b] = labels.filter((l) => l.t !== '2:4');
    expect(a!.x).toBe(b!.x);
    expect(Math.abs(a!.y - b!.y)).toBeGreaterThanOrEqual(12);
  });

  test('drops non-finite and (log axis) non-positive points; an empty chart is still valid', () => {
    const svg = lineChartSvg([{ label: 'bad', points: [{ x: 0.5, y: NaN }, { x: 0.6, y: 0 }, { x: 0.7, y: 2 }] }], { title: 't', xLabel: 'x', yLabel: 'y', logY: true });
    expect(svg.match(/<circle/g)).toHaveLength(1);
    for (const v of coordinates(svg)) expect(Number.isFinite(v)).toBe(true);
    const empty = lineChartSvg([], { title: 't', xLabel: 'x', yLabel: 'y', logY: true, reference: { y: 1, label: '1x' } });
    expect(balanced(empty)).toBe(true);
    for (const v of coordinates(empty)) expect(Number.isFinite(v)).toBe(true);
  });

  test('ticks and escaping', () => {
    expect(linearTicks(0.45, 1, 9)).toEqual([0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(linearTicks(0, 7.3)).toEqual([0, 2, 4, 6]);
    expect(log2Ticks(0.3, 9)).toEqual([0.5, 1, 2, 4, 8]);
    expect(escapeXml(`a<b & "c"`)).toBe('a&lt;b &amp; &quot;c&quot;');
  });
});

describe('sweep series and summary', () => {
  const row = (backend: string, medianMs: number, extra: Partial<BenchRow> = {}): BenchRow => ({
    op: 'matmul', shape: 'M=1 N=8 K=8', dtype: 'f32', backend, threads: 1, medianMs, p10Ms: medianMs, p90Ms: medianMs, runs: 3, ...extra,
  });
  const rows: BenchRow[] = [
    row('cpu', 10, { denseBaseline: true, ratioVsBestDense: 1 }),
    row('csr', 20, { sparsity: 0.5, ratioVsBestDense: 0.5 }),
    row('csr', 5, { sparsity: 0.7, ratioVsBestDense: 2 }),
    row('csr', 4, { op: 'matmul bf16', dtype: 'bf16', sparsity: 0.7, ratioVsBestDense: 1.2 }),
    row('nm 2:4', 6, { sparsity: 0.5, ratioVsBestDense: 1.6 }),
    row('input-sparse', 2, { sparsity: 0.9, ratioVsBestDense: 5 }),
    row('csr', 1, { shape: 'M=256 N=8 K=8', sparsity: 0.9, ratioVsBestDense: 9 }), // prefill: not in the decode chart
  ];

  test('groups rows by format and dtype; bf16 says its baseline; N:M and sparse activations are markers', () => {
    const s = sweepSeries(rows);
    expect(s.map((x) => x.label)).toEqual(['CSR f32', 'CSR bf16 (vs dense bf16)', 'N:M f32', 'sparse activations (x = input zeros)']);
    expect(s[0]!.points).toHaveLength(2);
    expect(s[2]).toMatchObject({ markersOnly: true, points: [{ x: 0.5, y: 1.6, label: '2:4' }] });
  });

  test('the summary gives the crossover by interpolation (0.5 + 0.2 x 0.5 / 1.5 = 0.567)', () => {
    const text = sweepSummary(rows).join('\n');
    expect(text).toMatch(/best dense f32 baseline: cpu 10\.000 ms/);
    expect(text).toMatch(/CSR f32: crossover with the best dense at ~57% sparsity; 50% 0\.50x, 70% 2\.00x/);
    expect(text).toMatch(/N:M f32: 2:4 50% 1\.60x/);
    expect(text).not.toMatch(/noisy|above its byte ceiling/);
    const flagged = sweepSummary([
      row('cpu', 10, { denseBaseline: true, ratioVsBestDense: 1, p10Ms: 5, p90Ms: 20 }),
      row('nm 2:4', 4, { sparsity: 0.5, ratioVsBestDense: 2.5, note: 'byte ceiling 1.88x' }),
    ]).join('\n');
    expect(flagged).toMatch(/noisy: cpu f32 dense p10-p90 5\.00-20\.00 ms \(4\.0x spread\)/);
    expect(flagged).toMatch(/nm 2:4 f32 50%: 2\.50x is above its byte ceiling 1\.88x/);
  });

  test('the chart of a result document carries its machine and date', () => {
    const machine = machineInfo(process.cwd());
    const svg = sweepChartSvg({ rows, date: '2026-01-02T03:04:05.000Z', machine, threads: 2, quick: false })!;
    expect(svg).toContain('2026-01-02 03:04 UTC');
    expect(svg).toContain(escapeXml(machine.cpu));
    expect(sweepChartSvg({ rows: [rows[0]!], date: '2026-01-02T03:04:05.000Z', machine, threads: 2, quick: false })).toBeUndefined();
  });

  test('RESULTS.md embeds a chart that sits next to a result', () => {
    const doc = { suite: 'sweep', date: '2026-01-02T03:04:05.000Z', quick: false, threads: 2, machine: machineInfo(process.cwd()), rows, summary: ['s'] };
    expect(renderReport([{ file: '2026-01-02-sweep.json', doc, chart: '2026-01-02-sweep.svg' }])).toContain(
      '![sweep: speedup against sparsity](results/2026-01-02-sweep.svg)',
    );
  });
});

describe('bench arguments', () => {
  test('--chart takes an .svg file; the demo is the sweep', () => {
    expect(parseArgs(['--quick', '--chart', 'out.svg'])).toMatchObject({ quick: true, chart: 'out.svg', save: false });
    expect(() => parseArgs(['--chart'])).toThrow(/\.svg/);
    expect(() => parseArgs(['--chart', 'out.png'])).toThrow(/\.svg/);
    expect(DEMO_SUITES).toContain(sweepSuite.name);
  });

  test('a --chart folder that does not exist fails before anything runs', async () => {
    const missing = path.join(os.tmpdir(), `sparsenn-no-such-folder-${process.pid}`, 'c.svg');
    await expect(main(['--quick', '--chart', missing])).rejects.toThrow(/does not exist/);
  });
});

const describeNative = backendInfo().backend !== 'js' ? describe : describe.skip;

describeNative('the demo, tiny run', () => {
  test('rows for dense and every sparse format, in one table, and an SVG where --chart says', async () => {
    const { rows } = await sweepSuite.run({ quick: true, tiny: true, threads: backendInfo().threads, log: () => {} });
    const backends = new Set(rows.map((r) => r.backend));
    for (const b of ['cpu', 'csr', 'bsr 1x16', 'nm 2:4', 'nm 1:4', 'input-sparse']) expect(backends).toContain(b);
    expect(rows.some((r) => r.backend === 'csr' && r.dtype === 'bf16' && r.op === 'matmul bf16')).toBe(true);
    for (const r of rows.filter((x) => x.op.startsWith('matmul'))) {
      expect(r.medianMs).toBeGreaterThan(0);
      expect(r.gbps).toBeGreaterThan(0);
      expect(r.ratioVsBestDense).toBeGreaterThan(0);
    }

    // Through the runner, as `npm start -- --chart FILE` would: nothing lands in bench/results.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparsenn-sweep-'));
    const before = fs.existsSync(resultsDir()) ? fs.readdirSync(resultsDir()).sort() : [];
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    // The runner with the sweep's tiny plan (the same suite object, so it still draws the chart).
    const original = sweepSuite.run;
    sweepSuite.run = (ctx) => original({ ...ctx, tiny: true });
    try {
      const file = path.join(dir, 'chart.svg');
      const docs = await main(['--quick', '--chart', file]);
      expect(docs.map((d) => d.suite)).toEqual(['sweep']);
      const svg = fs.readFileSync(file, 'utf8');
      expect(balanced(svg)).toBe(true);
      for (const label of ['CSR f32', 'BSR 1x16 f32', 'N:M f32', 'sparse activations']) expect(svg).toContain(label);
      for (const v of coordinates(svg)) expect(Number.isFinite(v)).toBe(true);
      const printed = stdout.mock.calls.map((c) => String(c[0])).join('');
      expect(printed).toContain(`chart of speedup against sparsity: ${file}`);
      expect(printed).toMatch(/input-sparse/);
    } finally {
      sweepSuite.run = original;
      stdout.mockRestore();
      stderr.mockRestore();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(fs.existsSync(resultsDir()) ? fs.readdirSync(resultsDir()).sort() : []).toEqual(before);
  }, 120_000);
});
