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
import { DTYPE_CODE } from '../../lib/dtype';
import { backendInfo, matmul, Tensor } from '../../lib/index';
import { AWKWARD_SIZES, randInt, relError, rng, tolerance } from '../helpers';
import { CaseFolder, simdVariants } from './isa_child';

const native = backendInfo().backend !== 'js';

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

// The child (after CHILD_PRELUDE): runs every case as a user process would, writes all outputs.
const CHILD = `
const cases = JSON.parse(fs.readFileSync(dir + '/cases.json', 'utf8'));
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
  const folder = new CaseFolder();
  const cases: Case[] = [];

  beforeAll(() => {
    let seed = 100;
    for (const [M, K, N] of shapes()) {
      for (const dt of ['f32', 'bf16', 'f16'] as const) {
        const x = Tensor.random([M, K], seed++);
        const w = Tensor.random([N, K], seed++).to(dt);
        const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
        cases.push({ M, K, N, dtype: DTYPE_CODE[dt], xOff: folder.push(x.data), wOff: folder.push(w.data), ref, label: `M=${M} K=${K} N=${N} ${dt}` });
      }
    }
    folder.write({ 'cases.json': cases.map(({ ref: _ref, label: _label, ...c }) => c) });
  });

  afterAll(() => folder.remove());

  test.each(simdVariants())('%s', (simd) => {
    const reply = folder.run<{ simd: string; sums: number[][] }>(CHILD, simd); // (it checks the variant ran)
    expect(reply.sums.flat().every((d) => d === 0)).toBe(true);
    const out = folder.read('output.bin');
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
  expect(simdVariants().length > 0).toBe(native);
});
