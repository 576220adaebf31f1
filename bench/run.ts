/**
 * `node dist/bench/run.js [suite...] [--quick] [--json] [--threads N] [--no-save]`
 *
 * Runs the named suites (all when none is named), prints a table per suite, writes
 * bench/results/<date>-<suite>.json and regenerates bench/RESULTS.md.
 *   --quick    the `npm start` demo: the DEMO_SUITES below, fewer shapes and runs (< 60 s);
 *              results are not saved unless --save is given
 *   --json     also print the result documents as JSON on stdout (progress goes to stderr)
 *   --threads  native thread-pool size for our kernels and every baseline (default: all cores)
 *   --no-save  do not write bench/results or RESULTS.md
 */
import { backendInfo, setThreads } from '../lib/index';
import { attentionSuite } from './attention';
import { attentionQualitySuite } from './quality/attention-quality';
import { decodeSuite } from './decode';
import { denseSuite } from './dense';
import { formatTable, type Suite } from './harness';
import { sparseCsrBsrSuite } from './sparse_csr_bsr';
import { sparseNmSuite } from './sparse_nm';
import { machineInfo } from './machine';
import { PACKAGE_ROOT, regenerateReport, writeResult, type ResultDoc } from './report';

/** Every suite, in run order. A new suite is a bench/<name>.ts exporting a Suite, added here. */
export const SUITES: readonly Suite[] = [
  denseSuite,
  attentionSuite,
  attentionQualitySuite,
  decodeSuite,
  sparseCsrBsrSuite,
  sparseNmSuite,
  // SPARSE_SUITE_HOOK: the sparse-format suite (bench/sparse.ts: CSR / N:M / BSR vs the dense rows
  // above, speedup against sparsity) plugs in here once lib/formats is merged.
];

/**
 * What `npm start` runs: a short dense-vs-sparse demo on synthetic Llama-shaped weights.
 * Dense only until the sparse suite exists; add its name here when it is registered above.
 */
export const DEMO_SUITES: readonly string[] = ['dense'];

interface Args {
  names: string[];
  quick: boolean;
  json: boolean;
  save: boolean;
  threads?: number;
}

function usage(): string {
  return [
    'usage: node dist/bench/run.js [suite...] [--quick] [--json] [--threads N] [--no-save | --save]',
    `suites: ${SUITES.map((s) => `${s.name} (${s.description})`).join('; ')}`,
  ].join('\n');
}

export function parseArgs(argv: readonly string[]): Args {
  const a: Args = { names: [], quick: false, json: false, save: true };
  let saveFlag: boolean | undefined;
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]!;
    if (v === '--quick') a.quick = true;
    else if (v === '--json') a.json = true;
    else if (v === '--no-save') saveFlag = false;
    else if (v === '--save') saveFlag = true;
    else if (v === '--threads') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--threads needs a positive integer\n${usage()}`);
      a.threads = n;
    } else if (v === '--help' || v === '-h') throw new Error(usage());
    else if (v.startsWith('-')) throw new Error(`unknown option ${v}\n${usage()}`);
    else a.names.push(v);
  }
  a.save = saveFlag ?? !a.quick;
  for (const n of a.names)
    if (!SUITES.some((s) => s.name === n)) throw new Error(`unknown suite '${n}'\n${usage()}`);
  return a;
}

export async function main(argv: readonly string[]): Promise<ResultDoc[]> {
  const args = parseArgs(argv);
  const log = (msg: string) => process.stderr.write(`${msg}\n`);
  const threads = args.threads !== undefined ? setThreads(args.threads) : backendInfo().threads;
  const names = args.names.length ? args.names : args.quick ? DEMO_SUITES : SUITES.map((s) => s.name);
  const machine = machineInfo(PACKAGE_ROOT);
  log(`sparsenn bench: ${machine.cpu}, ${machine.cores} cores, simd ${machine.simd}, ${threads} threads, node ${machine.node}, commit ${machine.commit}, load average ${machine.loadAverage}`);
  if (args.quick) log('quick run (the demo): fewer shapes and runs; numbers are indicative, `npm run bench` is the full run');
  const docs: ResultDoc[] = [];
  for (const suite of SUITES.filter((s) => names.includes(s.name))) {
    const t0 = Date.now();
    const { rows, summary } = await suite.run({ quick: args.quick, threads, log });
    const doc: ResultDoc = { suite: suite.name, date: new Date().toISOString(), quick: args.quick, threads, machine, rows, summary };
    docs.push(doc);
    const out = args.json ? log : (s: string) => process.stdout.write(`${s}\n`);
    out(`\n== ${suite.name} (${((Date.now() - t0) / 1e3).toFixed(1)} s)\n${formatTable(rows)}\n`);
    for (const s of summary) out(`* ${s}`);
    if (args.save) log(`wrote ${writeResult(doc)}`);
  }
  if (args.save && docs.length) log(`wrote ${regenerateReport()}`);
  if (args.json) process.stdout.write(JSON.stringify(docs, null, 2) + '\n');
  return docs;
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
