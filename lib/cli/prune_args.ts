/**
 * --prune / --sparsity / --pattern / --calibration, shared by `generate`, `prune` and `eval`.
 * `sparsenn prune` names the method --method (the issue's spelling); --prune works there too.
 */
import { readFile } from 'fs/promises';
import { Command, Option } from 'commander';
import { SparsennError } from '../errors';
import type { Model } from '../models/model';
import type { PatternSpec } from '../prune/pattern';
import { pruneModel, type PruneReport } from '../prune/prune_model';
import { num, progress } from './common';

type Method = 'magnitude' | 'random' | 'wanda' | 'sparsegpt';
const METHODS: readonly Method[] = ['magnitude', 'random', 'wanda', 'sparsegpt'];

export interface PruneArgs {
  prune?: Method;
  /** `sparsenn prune --method`: the same as --prune. */
  method?: Method;
  sparsity?: number;
  pattern?: string;
  refine?: boolean;
  calibration?: string;
  calibrationTokens?: number;
  storage?: 'auto' | 'sparse' | 'dense';
}

/** `isPruneCommand`: the `prune` subcommand, where --method is the main spelling (pruneCommand requires a method). */
export function addPruneOptions(cmd: Command, isPruneCommand = false): Command {
  if (isPruneCommand)
    cmd
      .addOption(new Option('--method <method>', 'pruning method (required)').choices(METHODS))
      .addOption(new Option('--prune <method>', 'the same as --method').choices(METHODS).hideHelp());
  else cmd.addOption(new Option('--prune <method>', 'pruning method').choices(METHODS));
  return cmd
    .option('--sparsity <s>', 'fraction of weights to remove (an N:M pattern implies it: 2:4 is 0.5)', num('sparsity', 0, 0.999))
    .option('--pattern <p>', "'unstructured' or N:M such as 2:4", 'unstructured')
    .option('--refine', 'refine masks with DSnoT (needs --calibration)')
    .option('--calibration <file>', 'calibration text file (needed by wanda, sparsegpt and --refine): plain text like the model\'s training data, a few hundred tokens or more')
    .option('--calibration-tokens <n>', 'calibration tokens to use', num('calibration-tokens', 1, 1e7, true))
    .addOption(
      new Option('--storage <mode>', "'auto': sparse format only where its batch-1 matmul measures faster; 'sparse': always; 'dense': keep zeros dense").choices([
        'auto',
        'sparse',
        'dense',
      ]),
    );
}

/** Prunes the model in place when --prune was given; returns the report. */
export async function applyPrune(model: Model, a: PruneArgs, json: boolean): Promise<PruneReport | undefined> {
  if (a.method && a.prune && a.method !== a.prune) throw new SparsennError('ERR_ARG', `--method ${a.method} and --prune ${a.prune} disagree`);
  const method = a.method ?? a.prune;
  if (!method) {
    if (a.sparsity !== undefined || a.refine || a.calibration || a.storage)
      throw new SparsennError('ERR_ARG', '--sparsity/--refine/--calibration/--storage need --prune METHOD');
    return undefined;
  }
  // No default calibration text ships with the package: say what to pass instead of guessing.
  if ((method === 'wanda' || method === 'sparsegpt' || a.refine) && !a.calibration)
    throw new SparsennError(
      'ERR_ARG',
      `${a.refine ? '--refine (DSnoT)' : `--method ${method}`} needs --calibration FILE: a plain-text file like the model's training data ` +
        "(a few hundred tokens or more); or use --method magnitude, which needs none",
    );
  let text: string | undefined;
  if (a.calibration) {
    try {
      text = await readFile(a.calibration, 'utf8');
    } catch (e) {
      throw new SparsennError('ERR_ARG', `--calibration ${a.calibration}: cannot read (${(e as Error).message})`, { cause: e });
    }
  }
  const bar = progress(json);
  try {
    return await pruneModel(model, {
      method,
      ...(a.sparsity !== undefined ? { sparsity: a.sparsity } : {}),
      pattern: (a.pattern ?? 'unstructured') as PatternSpec, // pruneModel validates it (ERR_ARG)
      ...(a.refine ? { refine: 'dsnot' as const } : {}),
      ...(a.storage ? { storage: a.storage } : {}),
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
