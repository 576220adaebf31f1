/**
 * The pruning-quality section of bench/RESULTS.md: the latest
 * bench/quality/results/<date>-prune-quality.json (written by prune-quality.ts) as a
 * perplexity table, with how it was calibrated (text, token count, the seeds) and what the
 * table shows for the comparisons the pruning tests assert (computed from the rows, so the
 * text cannot drift from the numbers).
 */
import * as fs from 'fs';
import * as path from 'path';

export interface PruneQualityRow {
  method: string;
  config: string;
  refine: string;
  sparsity: number;
  pplStories: number;
  pplSampled: number;
  meanLayerError?: number;
  leftDense: string[];
  pruneSeconds: number;
}

export interface PruneQualityDoc {
  date: string;
  model: string;
  calibration: string;
  evaluation: string;
  randomSeed: number;
  storage?: string;
  rows: PruneQualityRow[];
}

export function qualityResultsDir(root: string): string {
  return path.join(root, 'bench', 'quality', 'results');
}

/** The newest readable full run (a quick run only when there is no full one); null when there is none. */
export function latestPruneQuality(root: string): { file: string; doc: PruneQualityDoc } | null {
  const dir = qualityResultsDir(root);
  if (!fs.existsSync(dir)) return null;
  // Names start with the date, so sorted order is oldest first.
  const files = fs.readdirSync(dir).filter((f) => /-prune-quality(-quick)?\.json$/.test(f)).sort();
  const full = files.filter((f) => !f.includes('-quick'));
  for (const list of [full, files])
    for (const f of [...list].reverse()) {
      try {
        const doc = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as PruneQualityDoc;
        if (Array.isArray(doc.rows)) return { file: f, doc };
      } catch {
        // a partial or hand-edited file: skip it rather than fail the report
      }
    }
  return null;
}

function find(rows: readonly PruneQualityRow[], config: string, method: string, refine = ''): PruneQualityRow | undefined {
  return rows.find((r) => r.config === config && r.method === method && r.refine === refine);
}

/** One line per configuration: do Wanda and SparseGPT beat magnitude, and all three beat random (held-out stories)? */
export function qualityFindings(rows: readonly PruneQualityRow[]): string[] {
  const out: string[] = [];
  for (const config of ['50% unstructured', '2:4']) {
    const [mag, rnd, wanda, sgpt] = ['magnitude', 'random', 'wanda', 'sparsegpt'].map((m) => find(rows, config, m));
    if (!mag || !rnd || !wanda || !sgpt) continue;
    const p = (r: PruneQualityRow) => r.pplStories.toFixed(2);
    const beatsMag = wanda.pplStories < mag.pplStories && sgpt.pplStories < mag.pplStories;
    const beatRandom = [mag, wanda, sgpt].every((r) => r.pplStories < rnd.pplStories);
    out.push(
      `${config}: Wanda ${p(wanda)} and SparseGPT ${p(sgpt)} ${beatsMag ? 'beat' : 'do NOT both beat'} magnitude ${p(mag)}; ` +
        `${beatRandom ? 'all three beat' : 'NOT all three beat'} random ${p(rnd)} (perplexity on the held-out stories)`,
    );
  }
  const dsnotWorse = rows.filter((r) => {
    if (r.refine !== 'dsnot' || r.meanLayerError === undefined) return false;
    const base = find(rows, r.config, r.method);
    return base?.meanLayerError !== undefined && r.meanLayerError > base.meanLayerError + 1e-12;
  });
  const refined = rows.filter((r) => r.refine === 'dsnot').length;
  if (refined)
    out.push(
      dsnotWorse.length === 0
        ? `DSnoT lowered (or kept) the mean layer reconstruction error in all ${refined} refined runs`
        : `DSnoT raised the mean layer error in ${dsnotWorse.length} of ${refined} refined runs: ${dsnotWorse.map((r) => `${r.config} ${r.method}`).join(', ')}`,
    );
  return out;
}

export function renderPruneQuality(file: string, doc: PruneQualityDoc): string[] {
  const dense = doc.rows.find((r) => r.method === 'dense');
  const out = [
    '## Pruning quality (stories260K)',
    '',
    `${doc.date} — \`bench/quality/results/${file}\` — regenerate with \`node dist/bench/quality/prune-quality.js\`, then \`node dist/bench/report.js\``,
    '',
    `- model: ${doc.model}`,
    `- calibration: ${doc.calibration} (the text is fixed, so calibration involves no random choice)`,
    `- seeds: random pruning ${doc.randomSeed}; evaluation text sampled from the dense model as described below`,
    `- evaluation: ${doc.evaluation}`,
    ...(doc.storage ? [`- storage: ${doc.storage}`] : []),
    ...qualityFindings(doc.rows).map((s) => `- ${s}`),
    '',
    '| config | method | DSnoT | sparsity | ppl stories | ppl sampled | stories ppl / dense | mean layer rel. error | left dense | prune s |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of doc.rows)
    out.push(
      `| ${r.config} | ${r.method} | ${r.refine ? 'yes' : ''} | ${r.sparsity.toFixed(3)} | ${r.pplStories.toFixed(2)} | ${r.pplSampled.toFixed(2)} | ` +
        `${dense ? (r.pplStories / dense.pplStories).toFixed(2) : ''} | ${r.meanLayerError?.toFixed(4) ?? ''} | ` +
        `${r.leftDense.length ? String(r.leftDense.length) : ''} | ${r.method === 'dense' ? '' : r.pruneSeconds.toFixed(1)} |`,
    );
  out.push('');
  return out;
}

/** The section for RESULTS.md, or nothing when no quality run is on disk. */
export function pruneQualitySection(root: string): string[] {
  const latest = latestPruneQuality(root);
  return latest ? renderPruneQuality(latest.file, latest.doc) : [];
}
