/**
 * `node dist/bench/run.js [suite...] [--quick] [--json] [--threads N] [--no-save] [--chart FILE.svg]`
 *
 * Runs the named suites (all when none is named), prints a table per suite, writes
 * bench/results/<date>-<suite>.json and regenerates bench/RESULTS.md. When the sweep suite
 * runs, its chart (speedup against sparsity) is written too: next to its JSON when saving,
 * else to the system temp folder, or to --chart FILE.
 *   --quick    the `npm start` demo: the DEMO_SUITES below, fewer shapes and runs (< 60 s);
 *              results are not saved unless --save is given
 *   --chart    write the sweep chart (SVG) to FILE; runs the sweep suite if it was not named
 *   --json     also print the result documents as JSON on stdout (progress goes to stderr)
 *   --threads  native thread-pool size for our kernels and every baseline (default: all cores)
 *   --no-save  do not write bench/results or RESULTS.md
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { backendInfo, setThreads } from '../lib/index';
import { attentionSuite } from './attention';
import { attentionQualitySuite } from './quality/attention-quality';
import { streamingQualitySuite } from './quality/streaming-quality';
import { decodeSuite } from './decode';
import { decodeLongSuite } from './decode_long';
import { denseSuite } from './dense';
import { formatTable, type Suite } from './harness';
import { sparseCsrBsrSuite } from './sparse_csr_bsr';
import { sparseNmSuite } from './sparse_nm';
import { machineInfo } from './machine';
import { PACKAGE_ROOT, regenerateReport, writeResult, type ResultDoc } from './report';
import { sweepChartSvg, sweepSuite } from './sweep';

/** Every suite, in run order. A new suite is a bench/<name>.ts exporting a Suite, added here. */
export const SUITES: readonly Suite[] = [
  denseSuite,
  attentionSuite,
  attentionQualitySuite,
  streamingQualitySuite,
  decodeSuite,
  decodeLongSuite,
  sparseCsrBsrSuite,
  sparseNmSuite,
  sweepSuite,
];

/**
 * What `npm start` runs: a short dense-vs-sparse demo on synthetic Llama-shaped weights.
 * The sweep's quick plan puts dense (ours, onnxruntime, bf16), 2:4, CSR 50-95%, BSR and
 * sparse activations in one table, timed in the same rounds, and draws the chart.
 */
export const DEMO_SUITES: readonly string[] = ['sweep'];

interface Args {
  names: string[];
  quick: boolean;
  json: boolean;
  save: boolean;
  threads?: number;
  /** Where to write the sweep chart (SVG). */
  chart?: string;
}

function usage(): string {
  return [
    'usage: node dist/bench/run.js [suite...] [--quick] [--json] [--threads N] [--no-save | --save] [--chart FILE.svg]',
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
    } else if (v === '--chart') {
      const f = argv[++i];
      if (f === undefined || f.startsWith('-') || !f.toLowerCase().endsWith('.svg')) throw new Error(`--chart needs a file name ending in .svg\n${usage()}`);
      a.chart = f;
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
  const names = args.names.length ? [...args.names] : args.quick ? [...DEMO_SUITES] : SUITES.map((s) => s.name);
  // Fail before a long run, not after it, when the chart cannot be written where asked.
  if (args.chart !== undefined && !fs.existsSync(path.dirname(path.resolve(args.chart))))
    throw new Error(`--chart ${args.chart}: the folder ${path.dirname(path.resolve(args.chart))} does not exist`);
  if (args.chart !== undefined && !names.includes(sweepSuite.name)) {
    log(`--chart: adding the ${sweepSuite.name} suite, which the chart is drawn from`);
    names.push(sweepSuite.name);
  }
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
    const json = args.save ? writeResult(doc) : undefined;
    if (json) log(`wrote ${json}`);
    if (suite === sweepSuite) {
      // Saved runs keep their chart beside the JSON (RESULTS.md embeds it); --chart adds a copy where asked.
      const svg = sweepChartSvg(doc);
      const files = [json?.replace(/\.json$/, '.svg'), args.chart].filter((f): f is string => f !== undefined);
      if (!files.length) files.push(path.join(os.tmpdir(), 'sparsenn-speedup-vs-sparsity.svg'));
      if (svg)
        for (const file of files) {
          fs.writeFileSync(file, svg);
          out(`chart of speedup against sparsity: ${path.resolve(file)}`);
        }
      else log('sweep: no sparse rows, so no chart');
    }
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
