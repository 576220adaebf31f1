/** The pruning-quality section of RESULTS.md: rendered from the JSON, findings computed from the rows. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { latestPruneQuality, pruneQualitySection, qualityFindings, renderPruneQuality, type PruneQualityDoc, type PruneQualityRow } from '../bench/quality/report';
import { renderReport } from '../bench/report';

const row = (config: string, method: string, ppl: number, refine = '', err?: number): PruneQualityRow => ({
  method,
  config,
  refine,
  sparsity: method === 'dense' ? 0 : 0.5,
  pplStories: ppl,
  pplSampled: ppl * 1.1,
  ...(err !== undefined ? { meanLayerError: err } : {}),
  leftDense: [],
  pruneSeconds: 1.5,
});

const doc = (rows: PruneQualityRow[]): PruneQualityDoc => ({
  date: '2026-01-02T03:04:05.000Z',
  model: 'stories260K (llama2.c)',
  calibration: '10 hand-written stories, 1503 tokens',
  evaluation: 'held-out stories; sampled with seeds 11, 12, 13',
  randomSeed: 7,
  rows,
});

describe('pruning-quality section', () => {
  const good = [
    row('-', 'dense', 5),
    row('50% unstructured', 'magnitude', 40, '', 0.3),
    row('50% unstructured', 'magnitude', 20, 'dsnot', 0.2),
    row('50% unstructured', 'random', 9000, '', 0.6),
    row('50% unstructured', 'wanda', 20, '', 0.25),
    row('50% unstructured', 'sparsegpt', 21, '', 0.2),
  ];

  test('findings follow the numbers, both ways', () => {
    expect(qualityFindings(good)).toEqual([
      '50% unstructured: Wanda 20.00 and SparseGPT 21.00 beat magnitude 40.00; all three beat random 9000.00 (perplexity on the held-out stories)',
      'DSnoT lowered (or kept) the mean layer reconstruction error in all 1 refined runs',
    ]);
    const bad = good.map((r) => (r.method === 'wanda' ? { ...r, pplStories: 50 } : r.refine === 'dsnot' ? { ...r, meanLayerError: 0.4 } : r));
    const f = qualityFindings(bad);
    expect(f[0]).toMatch(/do NOT both beat magnitude/);
    expect(f[1]).toMatch(/DSnoT raised the mean layer error in 1 of 1 refined runs: 50% unstructured magnitude/);
  });

  test('the table has every row, the calibration size and the seed, and ratios to dense', () => {
    const md = renderPruneQuality('x.json', doc(good)).join('\n');
    expect(md).toContain('1503 tokens');
    expect(md).toContain('random pruning 7');
    expect(md).toContain('seeds 11, 12, 13');
    expect(md.split('\n').filter((l) => l.startsWith('| 50% unstructured'))).toHaveLength(5);
    expect(md).toContain('| 50% unstructured | magnitude |  | 0.500 | 40.00 | 44.00 | 8.00 | 0.3000 |  | 1.5 |');
  });

  test('RESULTS.md picks the newest full run (a quick run only without one) and places it before the run list', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sparsenn-quality-'));
    try {
      expect(pruneQualitySection(root)).toEqual([]);
      const dir = path.join(root, 'bench', 'quality', 'results');
      fs.mkdirSync(dir, { recursive: true });
      const write = (name: string, ppl: number) => fs.writeFileSync(path.join(dir, name), JSON.stringify(doc([row('-', 'dense', ppl)])));
      write('2026-01-03-prune-quality-quick.json', 3);
      expect(latestPruneQuality(root)?.file).toBe('2026-01-03-prune-quality-quick.json');
      write('2026-01-01-prune-quality.json', 1);
      write('2026-01-02-prune-quality.json', 2);
      fs.writeFileSync(path.join(dir, '2026-01-04-prune-quality.json'), '{ truncated');
      // The unreadable newest file is skipped rather than failing the report.
      expect(latestPruneQuality(root)?.file).toBe('2026-01-02-prune-quality.json');
      const md = renderReport([], pruneQualitySection(root));
      expect(md).toContain('## Pruning quality (stories260K)');
      expect(md).toContain('| - | dense |  | 0.000 | 2.00 |');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('the committed quality run renders', () => {
    const real = latestPruneQuality(path.resolve(__dirname, '..'));
    if (!real) {
      console.warn('no bench/quality/results/*-prune-quality.json in the tree: nothing to render');
      return;
    }
    const md = renderPruneQuality(real.file, real.doc).join('\n');
    expect(md).toContain('| 2:4 | sparsegpt |');
    expect(md).toMatch(/calibration: .*\d+ tokens/);
  });
});
