/** N:M format: construction, round trips, pattern and argument errors, corrupted buffers (never a crash). */
import { nativeBinding } from '../../lib/backend/native';
import { NmMatrix, nmGeometry } from '../../lib/formats/nm';
import { backendInfo, matmul, SparsennError, Tensor, toNm } from '../../lib/index';
import { randomNmDense } from './nm_random';
import { codeOf, relError } from '../helpers';

const PATTERNS: [number, number][] = [
  [1, 4],
  [2, 4],
  [2, 8],
  [4, 8],
  [1, 2],
  [3, 16],
  [5, 32],
];

describe('NmMatrix', () => {
  test.each(PATTERNS)('%i:%i round trips through toDense for every dtype and awkward K', (n, m) => {
    for (const K of [1, 3, m - 1, m, m + 1, 3 * m + 2, 101]) {
      if (K < 1) continue;
      for (const dtype of ['f32', 'bf16', 'f16'] as const) {
        const dense = randomNmDense(7, K, n, m, K * 31 + n).to(dtype);
        const w = toNm(dense, { n, m });
        expect(w.dtype).toBe(dtype);
        expect(w.groups).toBe(Math.ceil(K / m));
        expect(Array.from(w.toDense().data)).toEqual(Array.from(dense.data));
        const back = NmMatrix.deserialize(w.serialize());
        expect(Array.from(back.toDense().data)).toEqual(Array.from(dense.data));
        expect([back.n, back.m, back.dtype, ...back.shape]).toEqual([n, m, dtype, 7, K]);
      }
    }
  });

  test('defaults to 2:4 and converts the dtype on request', () => {
    const dense = randomNmDense(5, 40, 2, 4, 1);
    const w = toNm(dense);
    expect([w.n, w.m, w.dtype]).toEqual([2, 4, 'f32']);
    const h = toNm(dense, { dtype: 'bf16' });
    expect(h.dtype).toBe('bf16');
    expect(relError(h.toDense().toFloat32(), dense.data as Float32Array)).toBeLessThan(1e-2);
  });

  test('bytes are values plus 2-bit positions for 2:4 (16 / 8.5 of dense f32)', () => {
    const w = toNm(randomNmDense(8, 4096, 2, 4, 2));
    expect(w.metaWords).toBe(128); // 2048 positions x 2 bits / 32
    expect(w.bytes).toBe(8 * (2048 * 4 + 128 * 4));
    expect(w.nnz).toBe(8 * 2048);
    expect((8 * 4096 * 4) / w.bytes).toBeCloseTo(16 / 8.5, 5);
    expect(toNm(randomNmDense(8, 4096, 2, 4, 2), { dtype: 'f16' }).bytes).toBe(8 * (2048 * 2 + 128 * 4));
  });

  test('3-bit positions (m = 8) straddle metadata words and still decode', () => {
    const dense = randomNmDense(3, 8 * 23 + 5, 4, 8, 9);
    const w = toNm(dense, { n: 4, m: 8 });
    expect(w.metaWords).toBe(Math.ceil((w.groups * 4 * 3) / 32));
    expect(Array.from(w.toDense().data)).toEqual(Array.from(dense.data));
  });

  test('groups with fewer than n nonzeros keep explicit zeros at distinct positions', () => {
    const dense = new Tensor([0, 0, 0, 5, 0, 0, 0, 0, 1, 2], [1, 10]);
    const w = toNm(dense);
    expect(Array.from(w.values)).toEqual([0, 5, 0, 0, 1, 2]);
    expect([w.position(0, 0), w.position(0, 1), w.position(0, 2), w.position(0, 3)]).toEqual([0, 3, 0, 1]);
    expect([w.position(0, 4), w.position(0, 5)]).toEqual([0, 1]);
  });

  test('a tail group narrower than n pads with positions past K holding zeros', () => {
    const dense = new Tensor([1, 0, 0, 2, 7], [1, 5]); // last group: one real column
    const w = toNm(dense, { n: 2, m: 4 });
    expect([w.position(0, 2), w.position(0, 3)]).toEqual([0, 1]);
    expect(Array.from(w.values)).toEqual([1, 2, 7, 0]);
    expect(Array.from(w.toDense().data)).toEqual([1, 0, 0, 2, 7]);
  });

  test('ERR_PATTERN names the first group with too many nonzeros', () => {
    const data = randomNmDense(4, 17, 2, 4, 3).data as Float32Array;
    data[2 * 17 + 8] = 1;
    data[2 * 17 + 9] = 1;
    data[2 * 17 + 10] = 1;
    data[2 * 17 + 11] = 1;
    let err: SparsennError | undefined;
    try {
      toNm(new Tensor(data, [4, 17]));
    } catch (e) {
      err = e as SparsennError;
    }
    expect(err?.code).toBe('ERR_PATTERN');
    expect(err?.message).toMatch(/row 2, group 2 \(columns 8\.\.11\) has 4 nonzeros; 2:4 allows at most 2/);
  });

  test('bad n / m are ERR_ARG; bad inputs are coded', () => {
    const w = randomNmDense(2, 8, 1, 4, 1);
    expect(codeOf(() => toNm(w, { n: 5, m: 4 }))).toBe('ERR_ARG');
    expect(codeOf(() => toNm(w, { n: 0, m: 4 }))).toBe('ERR_ARG');
    expect(codeOf(() => toNm(w, { n: 1.5, m: 4 }))).toBe('ERR_ARG');
    expect(codeOf(() => toNm(w, { n: 2, m: 6 }))).toBe('ERR_ARG');
    expect(codeOf(() => toNm(w, { n: 1, m: 1 }))).toBe('ERR_ARG');
    expect(codeOf(() => toNm(w, { n: 2, m: 64 }))).toBe('ERR_ARG');
    expect(codeOf(() => toNm(w, { n: 2, m: 4, block: 3 } as never))).toBe('ERR_ARG');
    expect(codeOf(() => toNm(new Tensor(new Float32Array(8), [8]), {}))).toBe('ERR_SHAPE');
    expect(codeOf(() => toNm({} as Tensor))).toBe('ERR_ARG');
  });
});

describe('NmMatrix.validate rejects corrupted buffers with ERR_FORMAT', () => {
  const good = () => toNm(randomNmDense(3, 21, 2, 4, 5));

  test('a position stored twice in one group', () => {
    const w = good();
    const meta = w.meta.slice();
    meta[1 * w.metaWords] = (meta[1 * w.metaWords]! & ~0xf) | 0x5; // group 0 of row 1: positions 1, 1
    expect(codeOf(() => new NmMatrix(w.shape, 2, 4, w.values, meta, 'f32'))).toBe('ERR_FORMAT');
    expect(() => new NmMatrix(w.shape, 2, 4, w.values, meta, 'f32')).toThrow(/row 1, group 0 stores position 1 twice/);
  });

  test('a nonzero at a position past the last column', () => {
    const w = good(); // K = 21: the last group (columns 20..23) has one real column
    const meta = w.meta.slice();
    const values = (w.values as Float32Array).slice();
    const i = 5 * 2; // group 5, first stored value
    meta[0] = (meta[0]! & ~(0xf << (2 * i))) | ((1 | (2 << 2)) << (2 * i)); // positions 1, 2: both past K
    values[i] = 3;
    expect(() => new NmMatrix(w.shape, 2, 4, values, meta, 'f32')).toThrow(/position 1, past the last column/);
  });

  test('nonzero padding bits, wrong lengths and wrong array types', () => {
    const w = good(); // 12 positions x 2 bits: the top 8 bits of each row's word are padding
    const meta = w.meta.slice();
    meta[0] = meta[0]! | (1 << 30);
    expect(() => new NmMatrix(w.shape, 2, 4, w.values, meta, 'f32')).toThrow(/padding bits/);
    expect(codeOf(() => new NmMatrix(w.shape, 2, 4, w.values, w.meta.subarray(1), 'f32'))).toBe('ERR_FORMAT');
    expect(codeOf(() => new NmMatrix(w.shape, 2, 4, (w.values as Float32Array).subarray(1), w.meta, 'f32'))).toBe('ERR_FORMAT');
    expect(codeOf(() => new NmMatrix(w.shape, 2, 4, new Uint16Array(w.values.length), w.meta, 'f32'))).toBe('ERR_FORMAT');
    expect(codeOf(() => new NmMatrix(w.shape, 2, 4, w.values, new Uint16Array(w.meta.length) as never, 'f32'))).toBe('ERR_FORMAT');
  });

  test('deserialize: truncated buffers, a lying header, a foreign format', () => {
    const bytes = good().serialize();
    for (const cut of [0, 10, 40, bytes.length - 8]) expect(codeOf(() => NmMatrix.deserialize(bytes.slice(0, cut)))).toBe('ERR_FORMAT');
    const lying = bytes.slice();
    new DataView(lying.buffer).setFloat64(16 + 3 * 8, 3, true); // m = 3
    expect(codeOf(() => NmMatrix.deserialize(lying))).toBe('ERR_FORMAT');
    const wide = bytes.slice();
    new DataView(wide.buffer).setFloat64(16 + 1 * 8, 1e6, true); // K: lengths no longer match
    expect(codeOf(() => NmMatrix.deserialize(wide))).toBe('ERR_FORMAT');
    expect(codeOf(() => NmMatrix.deserialize(new Uint8Array(64)))).toBe('ERR_FORMAT');
  });

  test('matmul refuses a weight for another shape', () => {
    const w = good();
    expect(codeOf(() => matmul(Tensor.random([2, 20], 1), w))).toBe('ERR_SHAPE');
  });
});

const native = nativeBinding();
const describeNative = native && backendInfo().backend !== 'js' ? describe : describe.skip;

describeNative('native matmulNm never crashes on hostile arguments', () => {
  const b = native!;
  const K = 37;
  const N = 9;
  const M = 3;
  const { perRow, metaWords } = nmGeometry(K, 2, 4);

  test('garbage metadata reads only inside x (finite output); js reference refuses it', () => {
    const x = Tensor.random([M, K], 1);
    for (const [n, m] of [
      [2, 4],
      [4, 8],
      [1, 4],
    ] as const) {
      const g = nmGeometry(K, n, m);
      const values = new Float32Array(N * g.perRow).fill(1);
      const meta = new Uint32Array(N * g.metaWords);
      for (let i = 0; i < meta.length; i++) meta[i] = (Math.random() * 2 ** 32) >>> 0;
      const y = new Float32Array(M * N);
      b.matmulNm(x.data as Float32Array, M, K, values, 0, meta, N, n, m, y);
      expect(y.every(Number.isFinite)).toBe(true);
    }
    // A tampered matrix: the js backend re-validates, the cpu backend stays in bounds.
    const w = toNm(randomNmDense(N, K, 2, 4, 2));
    w.meta.fill(0xffffffff);
    expect(codeOf(() => matmul(x, w, { backend: 'js' }))).toBe('ERR_FORMAT');
    expect((matmul(x, w, { backend: 'cpu' }).data as Float32Array).every(Number.isFinite)).toBe(true);
  });

  test('short buffers, bad n / m and wrong array types are coded errors', () => {
    const x = new Float32Array(M * K);
    const values = new Float32Array(N * perRow);
    const meta = new Uint32Array(N * metaWords);
    const y = new Float32Array(M * N);
    // Straight into the addon: plain Errors with a `code`, never a crash.
    const raw = (...a: unknown[]) => {
      try {
        (b.matmulNm as (...args: unknown[]) => void)(...a);
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return undefined;
    };
    expect(raw(x, M, K, values, 0, meta, N, 2, 4, y)).toBeUndefined();
    expect(raw(x, M, K, values.subarray(1), 0, meta, N, 2, 4, y)).toBe('ERR_SHAPE');
    expect(raw(x, M, K, values, 0, meta.subarray(1), N, 2, 4, y)).toBe('ERR_SHAPE');
    expect(raw(x.subarray(1), M, K, values, 0, meta, N, 2, 4, y)).toBe('ERR_SHAPE');
    expect(raw(x, M, K, values, 0, meta, N, 2, 4, y.subarray(1))).toBe('ERR_SHAPE');
    expect(raw(x, M, K, values, 0, meta, N, 5, 4, y)).toBe('ERR_ARG');
    expect(raw(x, M, K, values, 0, meta, N, 2, 6, y)).toBe('ERR_ARG');
    expect(raw(x, M, K, values, 0, meta, N, 0, 4, y)).toBe('ERR_ARG');
    expect(raw(x, M, K, values, 1, meta, N, 2, 4, y)).toBe('ERR_DTYPE');
    expect(raw(x, M, K, values, 0, new Uint16Array(meta.length * 2), N, 2, 4, y)).toBe('ERR_DTYPE');
    expect(raw(x, M, K, values, 0, meta, N, 2, 4)).toBe('ERR_DTYPE');
    expect(raw(x, M, 2 ** 40, values, 0, meta, N, 2, 4, y)).toBe('ERR_SHAPE');
  });
});
