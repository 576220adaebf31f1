/**
 * Parity: bitmap matmul on the cpu backend against the js reference, on random sparse
 * weights (random values, random zero pattern, random sparsity) over awkward shapes
 * (K not a multiple of 16 or 8), every value dtype, and M in {1, 3, 17, ...}, under every
 * SIMD variant this CPU can run (avx512, avx2, scalar). The variant is chosen once per
 * process, so each runs in a child process that loads the addon with SPARSENN_SIMD set
 * (isa_child.ts); this process compares with the js backend.
 * Also: the native function refuses corrupted arrays with ERR_FORMAT under each variant,
 * including masks that over-claim values (which must not read out of bounds).
 */
import { nativeBinding } from '../../lib/backend/native';
import { DTYPE_CODE } from '../../lib/dtype';
import { backendInfo, matmul, matmulAsync, SparsennError, Tensor, toBitmap, type BitmapMatrix } from '../../lib/index';
import { AWKWARD_SIZES, pruned, randInt, relError, rng } from '../helpers';
import { CaseFolder, simdVariants } from './isa_child';

const native = backendInfo().backend !== 'js';
const describeNative = native ? describe : describe.skip;
// Both backends multiply the same stored (already rounded) values: f32 accumulation order is the only difference.
const TOL = 1e-5;

interface Shape {
  M: number;
  N: number;
  K: number;
  sparsity: number;
}

function shapes(): Shape[] {
  const r = rng(4242);
  const pick = () => (r() < 0.5 ? AWKWARD_SIZES[randInt(r, 0, AWKWARD_SIZES.length - 1)]! : randInt(r, 1, 300));
  const out: Shape[] = [];
  for (const M of [1, 3, 17]) for (let i = 0; i < 7; i++) out.push({ M, N: pick(), K: pick(), sparsity: 0.3 + 0.69 * r() });
  out.push(
    { M: 1, N: 1, K: 1, sparsity: 0 },
    { M: 1, N: 9, K: 4099, sparsity: 0.9 }, // long rows, partial last group
    { M: 2, N: 13, K: 24, sparsity: 0.2 }, // K a multiple of 8, not 16
    { M: 4, N: 31, K: 48, sparsity: 0.5 },
    { M: 5, N: 70, K: 129, sparsity: 0.7 },
    { M: 8, N: 6, K: 16, sparsity: 0 }, // dense rows: every mask full
    { M: 5, N: 7, K: 50, sparsity: 1 }, // every row empty: y exactly zero
    { M: 1, N: 64, K: 500, sparsity: 0.99 },
    { M: 1, N: 37, K: 1000, sparsity: 0.7 }, // decode: quads of 4 groups, then 2 whole groups and a partial one
    { M: 2, N: 23, K: 256, sparsity: 0.3 }, // K a multiple of 64: quads only
  );
  return out;
}

/** The child (after CHILD_PRELUDE): runs every case as a user process would, and the corruption checks. */
const CHILD = `
const cases = JSON.parse(fs.readFileSync(dir + '/cases.json', 'utf8'));
const outs = [];
for (const c of cases) {
  const x = new Float32Array(ab, c.xOff, c.M * c.K);
  const masks = new Uint16Array(ab, c.maskOff, c.N * Math.ceil(c.K / 16));
  const rowPtr = new Uint32Array(ab, c.ptrOff, c.N + 1);
  const values = c.dtype === 0 ? new Float32Array(ab, c.valOff, c.nnz) : new Uint16Array(ab, c.valOff, c.nnz);
  const y = new Float32Array(c.M * c.N).fill(NaN);
  b.matmulBitmap(x, c.M, c.K, masks, rowPtr, values, c.dtype, c.N, y);
  outs.push(Buffer.from(y.buffer));
}
fs.writeFileSync(dir + '/output.bin', Buffer.concat(outs));
// Corruptions of one matrix, each must throw ERR_FORMAT (never crash, never read past the arrays).
const bad = JSON.parse(fs.readFileSync(dir + '/bad.json', 'utf8'));
const codes = bad.map((c) => {
  const K = c.K, N = c.N, M = c.M;
  const x = new Float32Array(M * K).fill(1);
  const y = new Float32Array(M * N);
  try {
    b.matmulBitmap(x, M, K, Uint16Array.from(c.masks), Uint32Array.from(c.rowPtr), Float32Array.from(c.values), 0, N, y);
    return 'none';
  } catch (e) {
    return e.code || String(e);
  }
});
process.stdout.write(JSON.stringify({ simd: b.info().simd, codes }));
`;

interface Case extends Shape {
  dtype: 0 | 1 | 2;
  nnz: number;
  xOff: number;
  maskOff: number;
  ptrOff: number;
  valOff: number;
  ref: Float32Array;
  label: string;
}

/** Corrupted variants of one matrix (each must be refused), as plain arrays for the child. */
function corruptions(): { label: string; M: number; N: number; K: number; masks: number[]; rowPtr: number[]; values: number[] }[] {
  const out: ReturnType<typeof corruptions> = [];
  // Shapes where the corruption lands in a SIMD-computed row (long rows, rows far from the end) and in the tail.
  for (const [M, N, K] of [
    [1, 40, 300],
    [3, 12, 37],
    [17, 9, 64],
  ] as const) {
    const w = toBitmap(pruned(N, K, 0.5, N + K));
    const G = w.groups;
    const base = { M, N, K, masks: Array.from(w.masks), rowPtr: Array.from(w.rowPtr), values: Array.from(w.values) };
    const at = (row: number, g: number) => row * G + g;
    // Over-claim in the first row: every mask full (a cursor would run far past the row and the array).
    const full = base.masks.slice();
    for (let g = 0; g < G; g++) full[at(0, g)] = 0xffff;
    if (K % 16) full[at(0, G - 1)] = (1 << K % 16) - 1;
    out.push({ ...base, label: `${M}x${N}x${K} row 0 over-claims`, masks: full });
    // Over-claim in the last row (the one whose loads end at the array's end).
    const last = base.masks.slice();
    for (let g = 0; g < G; g++) last[at(N - 1, g)] = 0xffff;
    if (K % 16) last[at(N - 1, G - 1)] = (1 << K % 16) - 1;
    out.push({ ...base, label: `${M}x${N}x${K} last row over-claims`, masks: last });
    // Under-claim in a middle row.
    const under = base.masks.slice();
    const mid = Math.floor(N / 2);
    const g0 = under.findIndex((v, i) => i >= at(mid, 0) && i < at(mid + 1, 0) && v !== 0);
    if (g0 >= 0) {
      under[g0] = under[g0]! & (under[g0]! - 1);
      out.push({ ...base, label: `${M}x${N}x${K} middle row under-claims`, masks: under });
    }
    // A bit past K in a row's last group (when K is not a multiple of 16), popcounts kept equal.
    if (K % 16) {
      const past = base.masks.slice();
      const row = 1;
      const gi = past.findIndex((v, i) => i >= at(row, 0) && i < at(row, G - 1) && v !== 0);
      if (gi >= 0) {
        past[gi] = past[gi]! & (past[gi]! - 1);
        past[at(row, G - 1)] = past[at(row, G - 1)]! | 0x8000;
        out.push({ ...base, label: `${M}x${N}x${K} bit past K`, masks: past });
      }
    }
    // Row offsets: decreasing, not starting at 0, not ending at the value count; too few values.
    const dec = base.rowPtr.slice();
    dec[1] = dec[2]! + 1;
    out.push({ ...base, label: `${M}x${N}x${K} rowPtr decreases`, rowPtr: dec });
    const start = base.rowPtr.slice();
    start[0] = 1;
    out.push({ ...base, label: `${M}x${N}x${K} rowPtr[0] = 1`, rowPtr: start });
    out.push({ ...base, label: `${M}x${N}x${K} one value short`, values: base.values.slice(1) });
  }
  // A short last row (fewer values than one quad of groups reads) after long ones: an over-claiming
  // row just before it has its cursor clamped near the end of the values, where the AVX-512 kernel's
  // four loads per quad reach up to 63 values further; only rows ending that far from the end may
  // take that path (a C++ harness with a guard page after the values faulted when the margin was 16).
  for (const [M, N, K] of [
    [1, 8, 512],
    [2, 6, 1024],
  ] as const) {
    const dense = pruned(N, K, 0.5, 7 * N + K);
    const d = dense.data as Float32Array;
    for (let k = 0; k < K; k++) if (k % 40 !== 0) d[(N - 1) * K + k] = 0;
    const w = toBitmap(dense);
    const G = w.groups;
    for (const row of [N - 2, N - 3]) {
      const masks = Array.from(w.masks);
      for (let g = 0; g < G; g++) masks[row * G + g] = 0xffff;
      out.push({ M, N, K, masks, rowPtr: Array.from(w.rowPtr), values: Array.from(w.values), label: `${M}x${N}x${K} row ${row} over-claims before a short last row` });
    }
  }
  return out;
}

describeNative('bitmap matmul: every SIMD variant vs js', () => {
  const folder = new CaseFolder();
  const cases: Case[] = [];
  const bad = corruptions();

  beforeAll(() => {
    let seed = 300;
    for (const s of shapes()) {
      for (const dt of ['f32', 'bf16', 'f16'] as const) {
        const x = Tensor.random([s.M, s.K], seed++);
        const w = toBitmap(pruned(s.N, s.K, s.sparsity, seed++), { dtype: dt });
        const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
        cases.push({
          ...s,
          dtype: DTYPE_CODE[dt],
          nnz: w.nnz,
          xOff: folder.push(x.data as Float32Array),
          maskOff: folder.push(w.masks),
          ptrOff: folder.push(w.rowPtr),
          valOff: folder.push(w.values),
          ref,
          label: `M=${s.M} N=${s.N} K=${s.K} sparsity=${s.sparsity.toFixed(2)} ${dt}`,
        });
      }
    }
    folder.write({ 'cases.json': cases.map(({ ref: _r, label: _l, ...c }) => c), 'bad.json': bad });
  });

  afterAll(() => folder.remove());

  test.each(simdVariants())('%s', (simd) => {
    const reply = folder.run<{ simd: string; codes: string[] }>(CHILD, simd); // (it checks the variant ran)
    const out = folder.read('output.bin');
    let off = 0;
    const wrong: string[] = [];
    for (const c of cases) {
      const y = new Float32Array(out.buffer.slice(out.byteOffset + off, out.byteOffset + off + c.M * c.N * 4));
      off += c.M * c.N * 4;
      const err = relError(y, c.ref);
      if (!(err <= TOL)) wrong.push(`${c.label}: rel error ${err}`);
      if (c.nnz === 0 && !y.every((v) => v === 0)) wrong.push(`${c.label}: empty matrix gave nonzeros`);
    }
    expect(off).toBe(out.length);
    expect(wrong).toEqual([]);
    expect(reply.codes.map((code, i) => `${bad[i]!.label}: ${code}`)).toEqual(bad.map((b) => `${b.label}: ERR_FORMAT`));
  });
});

describeNative('bitmap matmul through the public API (default variant)', () => {
  test.each(['f32', 'bf16', 'f16'] as const)('%s: sync and async match js; M in {1, 3, 17}', async (dtype) => {
    let seed = 900;
    for (const M of [1, 3, 17])
      for (const [N, K, s] of [
        [33, 100, 0.7],
        [65, 257, 0.9],
        [7, 15, 0.4],
      ] as const) {
        const x = Tensor.random([M, K], seed++);
        const w = toBitmap(pruned(N, K, s, seed++), { dtype });
        const ref = matmul(x, w, { backend: 'js' }).data;
        expect(relError(matmul(x, w, { backend: 'cpu' }).data, ref)).toBeLessThanOrEqual(TOL);
        expect(relError((await matmulAsync(x, w, { backend: 'cpu' })).data, ref)).toBeLessThanOrEqual(TOL);
      }
  });

  test('K past 65536 (no index width limit) and a single long row', () => {
    for (const [M, N, K] of [
      [2, 3, 70001],
      [1, 1, 100000],
    ] as const) {
      const x = Tensor.random([M, K], 3);
      const w = toBitmap(pruned(N, K, 0.8, 4));
      expect(relError(matmul(x, w, { backend: 'cpu' }).data, matmul(x, w.toDense(), { backend: 'js' }).data)).toBeLessThanOrEqual(TOL);
    }
  });

  test('threads are balanced by nonzeros: a skewed matrix still matches', () => {
    const w = pruned(64, 500, 0.99, 5);
    const d = w.data as Float32Array;
    for (let k = 0; k < 500; k++) d[k] = 1 + (k % 7); // row 0 dense, the rest nearly empty
    const x = Tensor.random([2, 500], 6);
    const b = toBitmap(w);
    expect(relError(matmul(x, b, { backend: 'cpu' }).data, matmul(x, b, { backend: 'js' }).data)).toBeLessThanOrEqual(TOL);
  });

  test('a BitmapMatrix edited after construction is refused (sync and async)', async () => {
    const x = Tensor.random([2, 40], 2);
    const edited = (): BitmapMatrix => {
      const b = toBitmap(pruned(6, 40, 0.5, 3));
      b.masks[4] = 0xffff; // row 1 now claims more values than its offsets hold
      return b;
    };
    expect(() => matmul(x, edited(), { backend: 'cpu' })).toThrow(SparsennError);
    await expect(matmulAsync(x, edited(), { backend: 'cpu' })).rejects.toMatchObject({ code: 'ERR_FORMAT' });
  });

  test('the native function checks its arguments: sizes, types, lengths', () => {
    const b = nativeBinding()!;
    const w = toBitmap(pruned(4, 20, 0.5, 8));
    const x = new Float32Array(2 * 20).fill(1);
    const y = new Float32Array(2 * 4);
    const vals = w.values as Float32Array;
    const call = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return undefined;
    };
    expect(call(() => b.matmulBitmap(x, 2, 20, w.masks, w.rowPtr, vals, 0, 4, y))).toBeUndefined();
    expect(call(() => b.matmulBitmap(x, 2, 20, w.masks.subarray(1), w.rowPtr, vals, 0, 4, y))).toBe('ERR_SHAPE');
    expect(call(() => b.matmulBitmap(x, 2, 20, new Uint16Array(w.masks.length + 1), w.rowPtr, vals, 0, 4, y))).toBe('ERR_FORMAT');
    expect(call(() => b.matmulBitmap(x, 2, 20, w.masks, new Uint32Array(6), vals, 0, 4, y))).toBe('ERR_FORMAT');
    expect(call(() => b.matmulBitmap(x, 2, 20, w.masks as never, w.rowPtr, vals, 1, 4, y))).toBe('ERR_DTYPE');
    expect(call(() => b.matmulBitmap(x, 2, 20, new Uint32Array(8) as never, w.rowPtr, vals, 0, 4, y))).toBe('ERR_DTYPE');
    expect(call(() => b.matmulBitmap(x, 3, 20, w.masks, w.rowPtr, vals, 0, 4, y))).toBe('ERR_SHAPE');
  });
});

test('bitmap parity ran or says why not', () => {
  if (!native) console.warn('bitmap parity: native addon not loaded, skipped');
  expect(simdVariants().length > 0).toBe(native);
});
