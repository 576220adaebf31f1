/**
 * Pruning quality on stories260K: perplexity of the dense model and of every
 * method (magnitude, random, Wanda, SparseGPT; each with and without DSnoT) at 50%
 * unstructured, 2:4, 4:8 and 70% unstructured, on (a) hand-written held-out
 * stories the calibration never saw and (b) text sampled from the dense model with
 * fixed seeds. Writes bench/quality/results/<date>-prune-quality.{json,md}.
 *
 * Usage: node dist/bench/quality/prune-quality.js [modelDir] [--quick]
 */
import * as fs from 'fs';
import * as path from 'path';
import { perplexity } from '../../lib/eval/perplexity';
import { loadModel } from '../../lib/models/load';
import type { Model } from '../../lib/models/model';
import { pruneModel, type PruneMethod } from '../../lib/prune/prune_model';
import type { PatternSpec } from '../../lib/prune/pattern';
import { CALIBRATION_STORIES, EVALUATION_STORIES } from './texts';

const ROOT = path.resolve(__dirname, __filename.endsWith('.ts') ? '../..' : '../../..');

interface Row {
  method: PruneMethod | 'dense';
  config: string;
  refine: string;
  sparsity: number;
  pplStories: number;
  pplSampled: number;
  meanLayerError?: number;
  leftDense: string[];
  pruneSeconds: number;
}

const CONFIGS: { name: string; sparsity?: number; pattern: PatternSpec }[] = [
  { name: '50% unstructured', sparsity: 0.5, pattern: 'unstructured' },
  { name: '2:4', pattern: '2:4' },
  { name: '4:8', pattern: '4:8' },
  { name: '70% unstructured', sparsity: 0.7, pattern: 'unstructured' },
];
const METHODS: PruneMethod[] = ['magnitude', 'random', 'wanda', 'sparsegpt'];
const SAMPLE_SEEDS = [11, 12, 13];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const dir = args.find((a) => !a.startsWith('--')) ?? path.resolve(ROOT, '../shared/models/stories260K');
  const load = (): Promise<Model> => loadModel(path.join(dir, 'stories260K.bin'), { tokenizer: path.join(dir, 'tok512.bin') });
  const dense = await load();
  const stories = EVALUATION_STORIES.join('\n');
  let sampled = '';
  for (const seed of SAMPLE_SEEDS) sampled += (await dense.complete('Once upon a time', { maxTokens: 200, temperature: 1, seed })) + '\n';
  const calibration = { text: CALIBRATION_STORIES as string[], seqLen: 256 };
  const evalBoth = async (m: Model) => [(await perplexity(m, stories)).perplexity, (await perplexity(m, sampled)).perplexity] as const;
  const [ds, dsam] = await evalBoth(dense);
  const rows: Row[] = [{ method: 'dense', config: '-', refine: '', sparsity: 0, pplStories: ds, pplSampled: dsam, leftDense: [], pruneSeconds: 0 }];
  console.log(`dense: stories ${ds.toFixed(3)}, sampled ${dsam.toFixed(3)}`);
  let calibTokens = 0;
  for (const cfg of quick ? CONFIGS.slice(0, 2) : CONFIGS)
    for (const method of METHODS)
      for (const refine of [undefined, 'dsnot'] as const) {
        const m = await load();
        const rep = await pruneModel(m, {
          method,
          pattern: cfg.pattern,
          ...(cfg.sparsity !== undefined ? { sparsity: cfg.sparsity } : {}),
          ...(refine ? { refine } : {}),
          calibration,
          storage: 'dense',
          seed: 1,
        });
        calibTokens = rep.calibration?.tokens ?? 0;
        const [ps, psam] = await evalBoth(m);
        const errs = rep.layers.filter((l) => l.error !== undefined).map((l) => l.error!);
        const row: Row = {
          method,
          config: cfg.name,
          refine: refine ?? '',
          sparsity: rep.sparsity,
          pplStories: ps,
          pplSampled: psam,
          meanLayerError: errs.reduce((a, b) => a + b, 0) / Math.max(1, errs.length),
          leftDense: rep.layers.filter((l) => l.notes.some((n) => n.startsWith('left dense'))).map((l) => l.name),
          pruneSeconds: rep.seconds,
        };
        rows.push(row);
        console.log(`${cfg.name} ${method}${refine ? '+dsnot' : ''}: stories ${ps.toFixed(3)}, sampled ${psam.toFixed(3)}, sparsity ${rep.sparsity.toFixed(4)}, ${rep.seconds.toFixed(1)} s`);
      }
  const date = new Date().toISOString();
  const out = path.join(ROOT, 'bench', 'quality', 'results');
  fs.mkdirSync(out, { recursive: true });
  const base = path.join(out, `${date.slice(0, 10)}-prune-quality${quick ? '-quick' : ''}`);
  const meta = {
    date,
    model: 'stories260K (llama2.c)',
    calibration: `${CALIBRATION_STORIES.length} hand-written stories, ${calibTokens} tokens, sequences of ≤256, sequential group-by-group`,
    evaluation: `stories: ${EVALUATION_STORIES.length} held-out hand-written stories; sampled: dense model, prompt "Once upon a time", temperature 1, 200 tokens, seeds ${SAMPLE_SEEDS.join(', ')}`,
    randomSeed: 1,
    storage: 'dense tensors holding the zeros (formats do not change the values)',
  };
  fs.writeFileSync(base + '.json', JSON.stringify({ ...meta, rows }, null, 2) + '\n');
  const md = [
    `# Pruning quality: stories260K (${date.slice(0, 10)})`,
    '',
    ...Object.entries(meta).map(([k, v]) => `- ${k}: ${v}`),
    '',
    '| config | method | DSnoT | sparsity | ppl stories | ppl sampled | mean layer rel. error | left dense |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.config} | ${r.method} | ${r.refine ? 'yes' : ''} | ${r.sparsity.toFixed(3)} | ${r.pplStories.toFixed(2)} | ${r.pplSampled.toFixed(2)} | ${r.meanLayerError?.toFixed(4) ?? ''} | ${r.leftDense.length ? r.leftDense.length + ' (in_features not a multiple of M)' : ''} |`,
    ),
    '',
  ].join('\n');
  fs.writeFileSync(base + '.md', md);
  console.log(md);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
