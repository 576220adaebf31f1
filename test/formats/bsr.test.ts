/** BSR format: padding rule, round trips, storage size, serialisation, corrupted inputs. */
import { BsrMatrix, matmul, Tensor, toBsr } from '../../lib/index';
import { codeOf, pruned, rng } from '../helpers';

const BLOCKS: [number, number][] = [
  [1, 4],
  [4, 1],
  [4, 4],
  [8, 8],
  [16, 1],
  [1, 16],
  [3, 7],
];

describe('BSR format', () => {
  test.each(['f32', 'bf16', 'f16'] as const)('toDense(fromDense(w)) == w for %s, every block, padded shapes', (dtype) => {
    for (const block of BLOCKS)
      for (const [N, K, s] of [
        [1, 1, 0],
        [17, 33, 0.95],
        [16, 16, 0.5],
        [5, 3, 1],
      ] as const) {
        const w = pruned(N, K, s, N + K * 3).to(dtype);
        const b = toBsr(w, { block });
        expect(Array.from(b.toDense().data)).toEqual(Array.from(w.data));
        expect(b.blockGrid).toEqual([Math.ceil(N / block[0]), Math.ceil(K / block[1])]);
        expect(b.nnz).toBe(b.nblocks * block[0] * block[1]);
        expect(b.bytes).toBe(4 * (b.blockGrid[0] + 1) + 2 * b.nblocks + (dtype === 'f32' ? 4 : 2) * b.nnz);
      }
  });

  test('a block is kept exactly when it holds a nonzero', () => {
    // 4x4 matrix, 2x2 blocks: only the top-right block and the bottom-left block's corner are nonzero
    const w = new Tensor(new Float32Array([0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0]), [4, 4]);
    const b = toBsr(w, { block: [2, 2] });
    expect(b.nblocks).toBe(2);
    expect(Array.from(b.blockRowPtr)).toEqual([0, 1, 2]);
    expect(Array.from(b.blockCol)).toEqual([1, 0]);
    expect(Array.from(b.values)).toEqual([1, 0, 0, 2, 0, 0, 3, 0]);
    expect(toBsr(new Tensor(new Float32Array(12), [3, 4]), { block: [2, 2] }).nblocks).toBe(0);
  });

  test('options are checked', () => {
    const w = pruned(4, 4, 0.5, 1);
    expect(codeOf(() => toBsr(w, { block: [0, 4] }))).toBe('ERR_ARG');
    expect(codeOf(() => toBsr(w, { block: [2.5, 4] as never }))).toBe('ERR_ARG');
    expect(codeOf(() => toBsr(w, { block: [128, 128] }))).toBe('ERR_ARG');
    expect(codeOf(() => toBsr(w, {} as never))).toBe('ERR_ARG');
    expect(codeOf(() => toBsr(w, { block: [2, 2], n: 2 } as never))).toBe('ERR_ARG');
    expect(codeOf(() => toBsr(w, { block: [2, 2], dtype: 'int8' as never }))).toBe('ERR_DTYPE');
  });

  test.each(['f32', 'bf16'] as const)('serialize / deserialize round trip (%s)', (dtype) => {
    const b = toBsr(pruned(19, 41, 0.9, 5).to(dtype), { block: [4, 8] });
    const d = BsrMatrix.deserialize(b.serialize());
    expect(d.block).toEqual([4, 8]);
    expect(d.dtype).toBe(dtype);
    expect(Array.from(d.toDense().data)).toEqual(Array.from(b.toDense().data));
  });

  describe('corrupted buffers throw ERR_FORMAT', () => {
    const b = toBsr(pruned(12, 20, 0.7, 9), { block: [4, 4] });
    const bytes = b.serialize();
    const ptrAt = 16 + 4 * 8 + 3 * 16;
    const colAt = ptrAt + Math.ceil((4 * 4) / 8) * 8;
    const edit = (f: (v: DataView) => void) => {
      const c = bytes.slice();
      f(new DataView(c.buffer));
      return c;
    };
    test('baseline reads back', () => expect(BsrMatrix.deserialize(bytes).nblocks).toBe(b.nblocks));
    test('pointers out of order, block column past the grid, lying block size, truncation', () => {
      expect(codeOf(() => BsrMatrix.deserialize(edit((v) => v.setUint32(ptrAt + 4, 999, true))))).toBe('ERR_FORMAT');
      expect(codeOf(() => BsrMatrix.deserialize(edit((v) => v.setUint16(colAt, 5, true))))).toBe('ERR_FORMAT');
      expect(codeOf(() => BsrMatrix.deserialize(edit((v) => v.setFloat64(16 + 16, 0, true))))).toBe('ERR_FORMAT'); // br = 0
      expect(codeOf(() => BsrMatrix.deserialize(edit((v) => v.setFloat64(16 + 16, 8, true))))).toBe('ERR_FORMAT'); // br = 8
      expect(codeOf(() => BsrMatrix.deserialize(edit((v) => v.setFloat64(16 + 24, 1e6, true))))).toBe('ERR_FORMAT');
      for (let n = 0; n < bytes.byteLength; n += 5) expect(codeOf(() => BsrMatrix.deserialize(bytes.subarray(0, n)))).toBe('ERR_FORMAT');
    });
    test('random byte flips never crash', () => {
      const r = rng(4);
      for (let i = 0; i < 300; i++) {
        const c = bytes.slice();
        c[Math.floor(r() * c.length)] = Math.floor(r() * 256);
        const code = codeOf(() => BsrMatrix.deserialize(c));
        expect(code === undefined || code === 'ERR_FORMAT').toBe(true);
      }
    });
  });

  test('matmul: shape mismatch is ERR_SHAPE; y equals dense matmul (js)', () => {
    const w = pruned(9, 14, 0.8, 4);
    const b = toBsr(w, { block: [4, 4] });
    expect(codeOf(() => matmul(Tensor.random([2, 15], 1), b))).toBe('ERR_SHAPE');
    const x = Tensor.random([3, 14], 2);
    const want = Array.from(matmul(x, w, { backend: 'js' }).data);
    Array.from(matmul(x, b, { backend: 'js' }).data).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
  });
});
