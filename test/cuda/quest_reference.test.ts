/**
 * The GPU check program (bench/gpu/check.cc) judges the CUDA Quest page bounds against its own
 * C++ copy of the algorithm (bench/gpu/quest_reference.h). That copy is checked here, on the CPU,
 * against the library's js reference (questPageBoundsRef) on random f16 keys with an all-zero page
 * and +inf / NaN keys: int8 codes and f32 scales must agree bit for bit, so a GPU parity failure
 * means the kernel, not the reference.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tiledIndex } from '../../lib/attention/selection_contract';
import { questPageBoundsRef } from '../../lib/backend/js/attention_select';

const ROOT = path.resolve(__dirname, '../..');
const compiler = ['c++', 'g++', 'clang++'].find((c) => spawnSync(c, ['--version']).status === 0);
const maybe = compiler ? test : test.skip;

function read<T>(file: string, make: (b: ArrayBuffer) => T): T {
  const b = fs.readFileSync(file);
  return make(b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer);
}

maybe('the GPU check program computes the Quest page bounds the js reference does', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparsenn-quest-ref-'));
  const exe = path.join(dir, 'quest_reference_check');
  execFileSync(compiler!, ['-std=c++17', '-O1', '-Wall', '-Werror', `-I${path.join(ROOT, 'bench/gpu')}`, `-I${path.join(ROOT, 'native/include')}`,
    path.join(ROOT, 'test/cuda/quest_reference_check.cc'), '-o', exe]);
  const r = spawnSync(exe, [dir], { encoding: 'utf8' });
  expect(r.stdout).toBe('OK\n');
  const KH = 3, D = 40, P = 8, pages = 50, L = pages * P, capacity = 64;
  const k = read(path.join(dir, 'keys.bin'), (b) => new Uint16Array(b));
  const codes = read(path.join(dir, 'codes.bin'), (b) => new Int8Array(b));
  const scales = read(path.join(dir, 'scales.bin'), (b) => new Float32Array(b));
  fs.rmSync(dir, { recursive: true, force: true });
  const bounds = { data: new Int8Array(KH * capacity * 2 * D), scales: new Float32Array(KH * capacity), kvHeads: KH, capacity, width: 2 * D };
  const kv = { k, v: k, dtype: 'f16' as const, kvHeads: KH, length: L, headDim: D, headStride: L * D, tokenStride: D };
  questPageBoundsRef({ kv, pageSize: P, bounds, pageBegin: 0, pageEnd: pages });
  let wrong = 0;
  let infinite = 0;
  let zero = 0;
  for (let h = 0; h < KH; h++)
    for (let p = 0; p < pages; p++) {
      const want = bounds.scales[h * capacity + p]!;
      if (!Object.is(want, scales[h * pages + p]!)) wrong++;
      if (want === Infinity) infinite++;
      if (want === 0) zero++;
      for (let c = 0; c < 2 * D; c++) if (bounds.data[tiledIndex(bounds, h, p, c)] !== codes[(h * pages + p) * 2 * D + c]) wrong++;
    }
  // The special pages really are there (else this test would not exercise them).
  expect({ wrong, infinite, zero }).toEqual({ wrong: 0, infinite: 2, zero: 1 });
});

test('a C++ compiler was found or the skip says why', () => {
  if (!compiler) console.warn('quest reference check skipped: no C++ compiler (c++, g++, clang++) on PATH');
  expect(true).toBe(true);
});
