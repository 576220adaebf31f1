/** The `sparsenn` subcommands that run models: generate, prune, eval, convert, bench. */
import * as path from 'path';
import { Command } from 'commander';
import { convertLlama2cToSafetensors } from '../models/convert';
import { saveModel } from '../models/save';
import { perplexity } from '../eval/perplexity';
import { readFile } from 'fs/promises';
import { SparsennError } from '../errors';
import { addAttentionOptions, attentionPolicy, type AttentionArgs } from './attention_args';
import { num, openModel, type ModelArgs } from './common';
import { addPruneOptions, applyPrune, formatPruneReport, type PruneArgs } from './prune_args';

const addModelOptions = (cmd: Command) =>
  cmd
    .option('--model <path>', 'llama2.c .bin checkpoint or Hugging Face folder (default: built-in synthetic model)')
    .option('--tokenizer <path>', 'tokenizer file for a llama2.c checkpoint');

interface GenerateArgs extends ModelArgs, PruneArgs, AttentionArgs {
  prompt: string;
  maxTokens: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  seed?: number;
  stop?: string[];
  backend?: 'auto' | 'cpu' | 'js' | 'cuda';
}

export function generateCommand(): Command {
  const cmd = new Command('generate').description('stream generated text to stdout, then tokens/s');
  addModelOptions(cmd)
    .option('--prompt <text>', 'prompt text', '')
    .option('--max-tokens <n>', 'tokens to generate', num('max-tokens', 0, 1e7, true), 128)
    .option('--temperature <t>', 'sampling temperature (0 = greedy)', num('temperature', 0, 100))
    .option('--top-k <k>', 'keep the k most likely tokens', num('top-k', 1, 1e7, true))
    .option('--top-p <p>', 'nucleus sampling mass', num('top-p', 0, 1))
    .option('--min-p <p>', 'drop tokens below p × the top probability', num('min-p', 0, 1))
    .option('--repetition-penalty <r>', 'penalty for repeated tokens', num('repetition-penalty', 0, 100))
    .option('--seed <n>', 'sampling seed', num('seed', 0, 2 ** 32, true))
    .option('--stop <text...>', 'stop strings')
    .option('--backend <name>', "'auto', 'cpu', 'js' or 'cuda'");
  addPruneOptions(cmd);
  addAttentionOptions(cmd);
  return cmd.action(async (a: GenerateArgs) => {
    const model = await openModel(a);
    const report = await applyPrune(model, a, false);
    if (report) process.stderr.write(formatPruneReport(report) + '\n');
    const attention = attentionPolicy(a);
    const ac = new AbortController();
    process.once('SIGINT', () => ac.abort(new SparsennError('ERR_ABORTED', 'interrupted')));
    const t0 = performance.now();
    let tokens = 0;
    process.stdout.write(a.prompt);
    for await (const c of model.generate(a.prompt, {
      maxTokens: a.maxTokens,
      signal: ac.signal,
      ...(a.temperature !== undefined ? { temperature: a.temperature } : {}),
      ...(a.topK !== undefined ? { topK: a.topK } : {}),
      ...(a.topP !== undefined ? { topP: a.topP } : {}),
      ...(a.minP !== undefined ? { minP: a.minP } : {}),
      ...(a.repetitionPenalty !== undefined ? { repetitionPenalty: a.repetitionPenalty } : {}),
      ...(a.seed !== undefined ? { seed: a.seed } : {}),
      ...(a.stop ? { stop: a.stop } : {}),
      ...(a.backend ? { backend: a.backend } : {}),
      ...(attention ? { attention } : {}),
    })) {
      tokens++;
      process.stdout.write(c.text);
    }
    const s = (performance.now() - t0) / 1000;
    process.stdout.write('\n');
    process.stderr.write(`${tokens} tokens in ${s.toFixed(2)} s: ${(tokens / s).toFixed(1)} tokens/s (prompt processing included)\n`);
  });
}

interface EvalArgs extends ModelArgs, PruneArgs, AttentionArgs {
  text: string;
  maxTokens?: number;
  json?: boolean;
}

export function evalCommand(): Command {
  const cmd = new Command('eval').description('perplexity of a model on a text file (optionally after pruning / with sparse attention)');
  addModelOptions(cmd)
    .requiredOption('--text <file>', 'evaluation text file')
    .option('--max-tokens <n>', 'score at most n tokens', num('max-tokens', 2, 1e8, true))
    .option('--json', 'machine-readable output');
  addPruneOptions(cmd);
  addAttentionOptions(cmd);
  return cmd.action(async (a: EvalArgs) => {
    const model = await openModel(a);
    const text = await readFile(a.text, 'utf8');
    const opts = { ...(a.maxTokens ? { maxTokens: a.maxTokens } : {}) };
    const dense = a.prune ? await perplexity(model, text, opts) : undefined;
    const report = await applyPrune(model, a, !!a.json);
    const attention = attentionPolicy(a);
    const result = await perplexity(model, text, { ...opts, ...(attention ? { attention } : {}) });
    if (a.json) {
      console.log(JSON.stringify({ perplexity: result, ...(dense ? { densePerplexity: dense } : {}), ...(report ? { prune: report } : {}) }, null, 2));
      return;
    }
    if (report) console.log(formatPruneReport(report));
    if (dense) console.log(`dense perplexity ${dense.perplexity.toFixed(3)} over ${dense.tokens} tokens`);
    console.log(`perplexity ${result.perplexity.toFixed(3)} over ${result.tokens} tokens${report ? ' (pruned)' : ''}`);
  });
}

export function pruneCommand(): Command {
  const cmd = new Command('prune').description(
    'prune a model, report per-layer sparsity, format, bytes and error (and perplexity with --text), and save it with --out\n' +
      'example: sparsenn prune --model IN --out OUT --method wanda --sparsity 0.5 --pattern 2:4 --calibration calib.txt',
  );
  addModelOptions(cmd)
    .option('--out <dir>', 'write the pruned model to this folder (config.json, tokenizer.json, model.safetensors; loadModel / --model read it)')
    .option('--text <file>', 'evaluation text: report perplexity before and after')
    .option('--json', 'machine-readable output');
  addPruneOptions(cmd, true);
  return cmd.action(async (a: ModelArgs & PruneArgs & { out?: string; text?: string; json?: boolean }) => {
    if (!a.method && !a.prune) throw new SparsennError('ERR_ARG', "prune needs --method METHOD ('magnitude', 'random', 'wanda' or 'sparsegpt')");
    const model = await openModel(a);
    const text = a.text ? await readFile(a.text, 'utf8') : undefined;
    const before = text ? await perplexity(model, text) : undefined;
    const report = (await applyPrune(model, a, !!a.json))!;
    const after = text ? await perplexity(model, text) : undefined;
    if (a.out) await saveModel(model, a.out);
    if (a.json)
      console.log(JSON.stringify({ prune: report, ...(before ? { densePerplexity: before, perplexity: after } : {}), ...(a.out ? { out: a.out } : {}) }, null, 2));
    else {
      console.log(formatPruneReport(report));
      if (before && after) console.log(`perplexity: dense ${before.perplexity.toFixed(3)} -> pruned ${after.perplexity.toFixed(3)} (${after.tokens} tokens)`);
      if (a.out) console.log(`wrote ${a.out}`);
    }
  });
}

export function convertCommand(): Command {
  return new Command('convert')
    .description('convert a llama2.c checkpoint + tokenizer into a Hugging Face folder (config.json, model.safetensors, tokenizer.json)')
    .requiredOption('--model <file>', 'llama2.c .bin checkpoint')
    .requiredOption('--tokenizer <file>', 'llama2.c tokenizer .bin')
    .requiredOption('--out <dir>', 'output folder')
    .option('--dtype <dtype>', "'f32', 'bf16' or 'f16'", 'f32')
    .action(async (a: { model: string; tokenizer: string; out: string; dtype: 'f32' | 'bf16' | 'f16' }) => {
      await convertLlama2cToSafetensors(a.model, a.tokenizer, a.out, { dtype: a.dtype });
      console.log(`wrote ${a.out}`);
    });
}

export function benchCommand(): Command {
  return new Command('bench')
    .description(
      'benchmarks against dense baselines: `sparsenn bench [suite...] [--quick] [--json] [--chart FILE.svg]` ' +
        '(--chart writes the speedup-against-sparsity chart of the sweep suite; sparsenn bench --help-suites lists the suites)',
    )
    .allowUnknownOption()
    .argument('[args...]', 'suites and flags passed to the benchmark runner')
    .action(async (args: string[]) => {
      // The runner ships in dist/bench (this file is dist/lib/cli/commands.js).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const runner = require(path.resolve(__dirname, '../../bench/run.js')) as { main(argv: readonly string[]): Promise<unknown> };
      await runner.main(args.map((x) => (x === '--help-suites' ? '--help' : x)));
    });
}
