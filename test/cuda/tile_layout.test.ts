/**
 * The tensor-core tile layouts (native/cuda/tile_layout.h: 2:4 metadata for mma.sp, dense
 * fragments) are plain C++ index math, so they are tested here on the CPU: a small C++ program
 * packs random 2:4 / 1:4 / dense weights of awkward shapes and re-expands them with an
 * independent walk over (lane, register) -> (row, column), which must give back every bit.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');
const compiler = ['c++', 'g++', 'clang++'].find((c) => spawnSync(c, ['--version']).status === 0);
const maybe = compiler ? test : test.skip;

maybe('2:4 and dense tile packing round-trips and refuses non-2:4 input', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparsenn-tiles-'));
  const exe = path.join(dir, 'tile_layout_check');
  execFileSync(compiler!, ['-std=c++17', '-O1', '-Wall', '-Werror', `-I${path.join(ROOT, 'native/cuda')}`,
    path.join(ROOT, 'test/cuda/tile_layout_check.cc'), '-o', exe]);
  const r = spawnSync(exe, { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  expect(r.stdout).toMatch(/^OK \d+/);
  expect(r.status).toBe(0);
  expect(Number(r.stdout.split(' ')[1])).toBeGreaterThan(700);
});

test('a C++ compiler was found or the skip says why', () => {
  if (!compiler) console.warn('tile layout check skipped: no C++ compiler (c++, g++, clang++) on PATH');
  expect(true).toBe(true);
});
