/** --prune / --sparsity / --pattern / --calibration, shared by `generate`, `prune` and `eval`. */
import { readFile } from 'fs/promises';
import { Command, Option } from 'commander';
import { SparsennError } from '../errors';
import type { Model } from '../models/model';
import type { PatternSpec } from '../prune/pattern';
import { pruneModel, type PruneReport } from '../prune/prune_model';
import { num, progress } from './common';

export interface PruneArgs {
  prune?: 'magnitude' | 'random' | 'wanda' | 'sparsegpt';
  sparsity?: number;
  pattern?: string;
  refine?: boolean;
  calibration?: string;
  calibrationTokens?: number;
}

export function addPruneOptions(cmd: Command, required = false): Command {
  const method = new Option('--prune <method>', 'pruning method').choices(['magnitude', 'random', 'wanda', 'sparsegpt']);
  if (required) method.makeOptionMandatory();
  return cmd
    .addOption(method)
    .option('--sparsity <s>', 'fraction of weights to remove (unstructured)', num('sparsity', 0, 0.999))
    .option('--pattern <p>', "'unstructured' or N:M such as 2:4", 'unstructured')
    .option('--refine', 'refine masks with DSnoT (needs --calibration)')
    .option('--calibration <file>', 'calibration text file (needed by wanda, sparsegpt and --refine)')
    .option('--calibration-tokens <n>', 'calibration tokens to use', num('calibration-tokens', 1, 1e7, true));
}

/** Prunes the model in place when --prune was given; returns the report. */
export async function applyPrune(model: Model, a: PruneArgs, json: boolean): Promise<PruneReport | undefined> {
  if (!a.prune) {
    if (a.sparsity !== undefined || a.refine || a.calibration) throw new SparsennError('ERR_ARG', '--sparsity/--refine/--calibration need --prune METHOD');
    return undefined;
  }
  const text = a.calibration ? await readFile(a.calibration, 'utf8') : undefined;
  const bar = progress(json);
  try {
    return await pruneModel(model, {
      method: a.prune,
      ...(a.sparsity !== undefined ? { sparsity: a.sparsity } : {}),
      pattern: (a.pattern ?? 'unstructured') as PatternSpec, // pruneModel validates it (ERR_ARG)
      ...(a.refine ? { refine: 'dsnot' as const } : {}),
      ...(text !== undefined ? { calibration: { text, ...(a.calibrationTokens ? { tokens: a.calibrationTokens } : {}) } } : {}),
      onProgress: (p) => bar.update(p.index + (p.phase === 'store' ? 1 : 0), p.total, `${p.phase} ${p.layer}`),
    });
  } finally {
    bar.stop();
  }
}

export function formatPruneReport(r: PruneReport): string {
  const mib = (b: number) => (b / 2 ** 20).toFixed(2);
  const lines = [
    `pruned ${r.layers.length} layers with ${r.method}${r.refine ? ' + ' + r.refine : ''} (${r.pattern}): ` +
      `sparsity ${(r.sparsity * 100).toFixed(1)}%, ${mib(r.denseBytes)} MiB -> ${mib(r.bytes)} MiB in ${r.seconds.toFixed(1)} s`,
  ];
  for (const l of r.layers)
    lines.push(
      `  ${l.name.padEnd(34)} ${`${l.shape[0]}x${l.shape[1]}`.padEnd(10)} ${(l.sparsity * 100).toFixed(1).padStart(5)}% ${l.format.padEnd(5)}` +
        (l.error !== undefined ? ` err ${l.error.toFixed(4)}` : ''),
    );
  return lines.join('\n');
}
