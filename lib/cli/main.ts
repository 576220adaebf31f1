#!/usr/bin/env node
/** The `sparsenn` command. Each subcommand lives in its own file under lib/cli/. */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { Command } from 'commander';
import { benchCommand, convertCommand, evalCommand, generateCommand, pruneCommand } from './commands';
import { doctorReport, formatDoctor } from './doctor';

const program = new Command();
program.name('sparsenn').description('Run pruned (sparse) neural networks from Node.js');

program
  .command('doctor')
  .description('print what a bug report needs: Node, N-API, platform, CPU, SIMD, threads, which binary loaded, CUDA')
  .option('--json', 'machine-readable output')
  .action((opts: { json?: boolean }) => {
    const r = doctorReport();
    console.log(opts.json ? JSON.stringify(r, null, 2) : formatDoctor(r));
  });

program
  .command('build')
  .description('build the native CPU addon from source with cmake-js (needs a C++17 compiler and cmake)')
  .action(() => {
    const root = path.resolve(__dirname, '../../..');
    const r = spawnSync('npx', ['--yes', 'cmake-js', 'compile', '-O', 'build'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) {
      console.error('sparsenn build failed: install a C++17 compiler and cmake, then run it again.');
      process.exitCode = r.status ?? 1;
    }
  });

for (const c of [generateCommand(), pruneCommand(), evalCommand(), convertCommand(), benchCommand()]) program.addCommand(c);

program.parseAsync(process.argv).catch((e: Error & { code?: string }) => {
  console.error(`sparsenn: ${e.message}${e.code ? ` (${e.code})` : ''}`);
  process.exitCode = 1;
});
