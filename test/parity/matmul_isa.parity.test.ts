/**
 * Parity of every compiled SIMD variant of the dense matmul (avx512, avx2, portable)
 * against the js reference (and of the streaming-read baseline against an exact sum). The variant is chosen once per process from the CPU
 * (SPARSENN_SIMD may only lower it), so each variant runs in a child process that
 * loads the addon with SPARSENN_SIMD set and computes the cases written to a temp
 * file; this process compares its answers with the js backend.
 *
 * The shapes cover both native paths: small M (the GEMV tile and its K tails; up to
 * M = 32 on AVX-512, 16 on AVX2) and larger M (the blocked GEMM: partial row groups,
 * partial X panels, several 512-wide k-blocks, more than one 256-row chunk of X).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DTYPE_CODE } from '../../lib/dtype';
import { backendInfo, matmul, Tensor } from '../../lib/index';
import { AWKWARD_SIZES, randInt, relError, rng, tolerance } from '../helpers';

const info = backendInfo();
const native = info.backend !== 'js';
const x86 = process.arch === 'x64';
const ROOT = path.resolve(__dirname, '../..');

/** Variants this CPU can run: the detected level and every lower one. */
function variants(): string[] {
  if (!native) return [];
  if (!x86) return [info.simd];
  const order = ['scalar', 'avx2', 'avx512'];
  return order.slice(0, order.indexOf(info.simd) + 1).reverse();
}

function shapes(): [number, number, number][] {
  const r = rng(2024);
  const pick = () => (r() < 0.5 ? AWKWARD_SIZES[randInt(r, 0, AWKWARD_SIZES.length - 1)]! : randInt(r, 1, 300));
  const out: [number, number, number][] = [];
  for (let i = 0; i < 16; i++) out.push([randInt(r, 1, 9), pick(), pick()]); // GEMV path and its edge
  for (let i = 0; i < 10; i++) out.push([randInt(r, 5, 140), pick(), pick()]); // GEMM, odd panels
  // GEMM with several k-blocks, partial row groups and X chunks past 256 rows.
  out.push([300, 700, 100], [9, 1500, 50], [257, 520, 97], [65, 1025, 13], [40, 1030, 70], [33, 600, 49], [530, 300, 20], [1, 2049, 37], [4, 513, 5], [5, 17, 1]);
  return out;
}

// The child: loads the addon as a user process would, runs every case, writes all outputs.
const CHILD = `
const fs = require('fs');
const [root, dir] = process.argv.slice(1);
// The addon the parent uses: SPARSENN_NATIVE_DIR (the ASan build under scripts/asan-check.sh) or the package's.
const b = require('node-gyp-build')(process.env.SPARSENN_NATIVE_DIR || root);
const cases = JSON.parse(fs.readFileSync(dir + '/cases.json', 'utf8'));
const input = fs.readFileSync(dir + '/input.bin');
const ab = input.buffer.slice(input.byteOffset, input.byteOffset + input.byteLength);
const outs = [];
for (const c of cases) {
  const x = new Float32Array(ab, c.xOff, c.M * c.K);
  const w = c.dtype === 0 ? new Float32Array(ab, c.wOff, c.N * c.K) : new Uint16Array(ab, c.wOff, c.N * c.K);
  const y = new Float32Array(c.M * c.N);
  b.matmulDense(x, c.M, c.K, w, c.dtype, c.N, y);
  outs.push(Buffer.from(y.buffer));
}
fs.writeFileSync(dir + '/output.bin', Buffer.concat(outs));
// The streaming-read baseline of the same variant, on small integers (every partial sum exact).
const sums = [0, 1, 5, 64, 65, 1003, 100003].map((n) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (i % 17) - 8;
  return [1, 2, 5].map((t) => b.benchStreamRead(a, t) - a.reduce((s, v) => s + v, 0));
});
process.stdout.write(JSON.stringify({ simd: b.info().simd, sums }));
`;

interface Case {
  M: number;
  K: number;
  N: number;
  dtype: 0 | 1 | 2;
  xOff: number;
  wOff: number;
  ref: Float32Array;
  label: string;
}

const describeNative = native ? describe : describe.skip;

describeNative('dense matmul: every SIMD variant vs js', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparsenn-isa-'));
  const cases: Case[] = [];

  beforeAll(() => {
    const chunks: Buffer[] = [];
    let off = 0;
    const push = (a: Float32Array | Uint16Array) => {
      const at = off;
      const b = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
      chunks.push(b);
      off += b.length;
      const pad = (4 - (off % 4)) % 4; // keep every Float32Array 4-byte aligned
      if (pad) {
        chunks.push(Buffer.alloc(pad));
        off += pad;
      }
      return at;
    };
    let seed = 100;
    for (const [M, K, N] of shapes()) {
      for (const dt of ['f32', 'bf16', 'f16'] as const) {
        const x = Tensor.random([M, K], seed++);
        const w = Tensor.random([N, K], seed++).to(dt);
        const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
        cases.push({ M, K, N, dtype: DTYPE_CODE[dt], xOff: push(x.data), wOff: push(w.data), ref, label: `M=${M} K=${K} N=${N} ${dt}` });
      }
    }
    fs.writeFileSync(path.join(dir, 'input.bin'), Buffer.concat(chunks));
    fs.writeFileSync(path.join(dir, 'cases.json'), JSON.stringify(cases.map(({ ref: _ref, label: _label, ...c }) => c)));
  });

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each(variants())('%s', (simd) => {
    const env = { ...process.env, SPARSENN_SIMD: simd };
    const r = spawnSync(process.execPath, ['-e', CHILD, ROOT, dir], { env, encoding: 'utf8', timeout: 120000 });
    if (r.status !== 0) throw new Error(`child for ${simd} failed (${r.status ?? r.signal}): ${r.stderr}`);
    const reply = JSON.parse(r.stdout) as { simd: string; sums: number[][] };
    expect(reply.simd).toBe(simd); // the variant really was the one asked for
    expect(reply.sums.flat().every((d) => d === 0)).toBe(true);
    const out = fs.readFileSync(path.join(dir, 'output.bin'));
    let off = 0;
    const bad: string[] = [];
    for (const c of cases) {
      const y = new Float32Array(out.buffer.slice(out.byteOffset + off, out.byteOffset + off + c.M * c.N * 4));
      off += c.M * c.N * 4;
      const err = relError(y, c.ref);
      const tol = tolerance(c.dtype === 0 ? 'f32' : c.dtype === 1 ? 'bf16' : 'f16') / 10;
      if (!(err <= tol)) bad.push(`${c.label}: rel error ${err}`);
    }
    expect(off).toBe(out.length);
    expect(bad).toEqual([]);
  });
});

test('variant parity ran or says why not', () => {
  if (!native) console.warn('matmul_isa parity: native addon not loaded, skipped');
  expect(variants().length > 0).toBe(native);
});
