/** CSR format: round trips, storage size, serialisation, and corrupted inputs that must throw ERR_FORMAT. */
import { CsrMatrix, isSparseMatrix, matmul, Tensor, toCsr } from '../../lib/index';
import { codeOf, pruned, rng } from '../helpers';

describe('CSR format', () => {
  test.each(['f32', 'bf16', 'f16'] as const)('toDense(fromDense(w)) == w for %s over sparsities', (dtype) => {
    for (const [N, K, s] of [
      [1, 1, 0],
      [7, 13, 0.5],
      [33, 65, 0.9],
      [16, 300, 0.99],
      [5, 8, 1],
    ] as const) {
      const w = pruned(N, K, s, N * 31 + K).to(dtype);
      const c = toCsr(w);
      expect(c.dtype).toBe(dtype);
      expect(Array.from(c.toDense().data)).toEqual(Array.from(w.data));
      let nz = 0;
      for (const v of w.toFloat32()) if (v !== 0) nz++;
      expect(c.nnz).toBe(nz);
      expect(c.bytes).toBe(4 * (N + 1) + 2 * nz + (dtype === 'f32' ? 4 : 2) * nz);
      expect(isSparseMatrix(c)).toBe(true);
      expect(isSparseMatrix(w)).toBe(false);
    }
  });

  test('dtype option converts values; zeros are found after conversion', () => {
    const w = new Tensor(new Float32Array([1, 0, -0, 2.5, 1e-30, 0]), [2, 3]);
    const c = toCsr(w, { dtype: 'f16' });
    expect(c.dtype).toBe('f16');
    expect(c.nnz).toBe(2); // 1e-30 underflows to zero in f16, -0 is zero
    expect(Array.from(c.toDense().toFloat32())).toEqual([1, 0, 0, 2.5, 0, 0]);
    expect(codeOf(() => toCsr(w, { dtype: 'f64' as never }))).toBe('ERR_DTYPE');
    expect(codeOf(() => toCsr(w, { block: 3 } as never))).toBe('ERR_ARG');
    expect(codeOf(() => toCsr(new Tensor(new Float32Array(8), [2, 2, 2])))).toBe('ERR_SHAPE');
  });

  test('u32 column indices when K > 65536, u16 otherwise', () => {
    expect(toCsr(pruned(2, 65536, 0.9, 1)).colIdx).toBeInstanceOf(Uint16Array);
    const wide = toCsr(pruned(2, 65537, 0.9, 2));
    expect(wide.colIdx).toBeInstanceOf(Uint32Array);
    expect(CsrMatrix.deserialize(wide.serialize()).colIdx).toBeInstanceOf(Uint32Array);
  });

  test.each(['f32', 'bf16', 'f16'] as const)('serialize / deserialize round trip (%s)', (dtype) => {
    const c = toCsr(pruned(19, 41, 0.7, 5).to(dtype));
    const bytes = c.serialize();
    expect(bytes.byteLength % 8).toBe(0);
    const d = CsrMatrix.deserialize(bytes);
    expect(d.shape).toEqual(c.shape);
    expect(d.dtype).toBe(dtype);
    expect(Array.from(d.rowPtr)).toEqual(Array.from(c.rowPtr));
    expect(Array.from(d.colIdx)).toEqual(Array.from(c.colIdx));
    expect(Array.from(d.values)).toEqual(Array.from(c.values));
    // a buffer at an odd offset inside a bigger one reads the same
    const shifted = new Uint8Array(bytes.byteLength + 3);
    shifted.set(bytes, 3);
    expect(Array.from(CsrMatrix.deserialize(shifted.subarray(3)).toDense().data)).toEqual(Array.from(c.toDense().data));
  });

  describe('corrupted buffers throw ERR_FORMAT', () => {
    const c = toCsr(pruned(6, 20, 0.6, 9));
    const bytes = c.serialize();
    // Offsets of the arrays: 16-byte fixed header, 2 header fields, 3 descriptors, then 8-aligned arrays.
    const rowPtrAt = 16 + 2 * 8 + 3 * 16;
    const colIdxAt = rowPtrAt + Math.ceil((4 * 7) / 8) * 8;
    const edit = (f: (b: Uint8Array, v: DataView) => void) => {
      const b = bytes.slice();
      f(b, new DataView(b.buffer));
      return b;
    };

    test('the untouched buffer reads back', () => {
      expect(CsrMatrix.deserialize(bytes).nnz).toBe(c.nnz);
    });
    test('row pointers out of order', () => {
      expect(codeOf(() => CsrMatrix.deserialize(edit((_, v) => v.setUint32(rowPtrAt + 4 * 3, 1000, true))))).toBe('ERR_FORMAT');
    });
    test('a column index >= K', () => {
      expect(codeOf(() => CsrMatrix.deserialize(edit((_, v) => v.setUint16(colIdxAt, 20, true))))).toBe('ERR_FORMAT');
    });
    test('columns not increasing within a row', () => {
      const b = edit((_, v) => {
        const first = v.getUint16(colIdxAt, true);
        v.setUint16(colIdxAt + 2, first, true);
      });
      expect(c.rowPtr[1]! >= 2).toBe(true);
      expect(codeOf(() => CsrMatrix.deserialize(b))).toBe('ERR_FORMAT');
    });
    test('truncated at every length', () => {
      for (let n = 0; n < bytes.byteLength; n += 3) expect(codeOf(() => CsrMatrix.deserialize(bytes.subarray(0, n)))).toBe('ERR_FORMAT');
    });
    test('a header that lies about sizes', () => {
      expect(codeOf(() => CsrMatrix.deserialize(edit((_, v) => v.setFloat64(16, 7, true))))).toBe('ERR_FORMAT'); // N
      expect(codeOf(() => CsrMatrix.deserialize(edit((_, v) => v.setFloat64(16 + 8, 5, true))))).toBe('ERR_FORMAT'); // K
      expect(codeOf(() => CsrMatrix.deserialize(edit((_, v) => v.setFloat64(16 + 16 + 8, 2 ** 40, true))))).toBe('ERR_FORMAT');
      expect(codeOf(() => CsrMatrix.deserialize(edit((_, v) => v.setFloat64(16 + 16 + 8, -1, true))))).toBe('ERR_FORMAT');
      expect(codeOf(() => CsrMatrix.deserialize(edit((_, v) => v.setUint32(8, 0xffffffff, true))))).toBe('ERR_FORMAT');
      expect(codeOf(() => CsrMatrix.deserialize(edit((_, v) => v.setUint32(12, 1000, true))))).toBe('ERR_FORMAT');
      expect(codeOf(() => CsrMatrix.deserialize(edit((_, v) => v.setUint32(16 + 16 + 16, 4, true))))).toBe('ERR_FORMAT'); // colIdx kind f32
      expect(codeOf(() => CsrMatrix.deserialize(edit((b) => (b[7] = 9))))).toBe('ERR_FORMAT'); // dtype code
      expect(codeOf(() => CsrMatrix.deserialize(edit((b) => (b[7] = 1))))).toBe('ERR_FORMAT'); // bf16 with f32 values
    });
    test('wrong magic, version, format, trailing bytes, not bytes', () => {
      expect(codeOf(() => CsrMatrix.deserialize(edit((b) => (b[0] = 0))))).toBe('ERR_FORMAT');
      expect(codeOf(() => CsrMatrix.deserialize(edit((_, v) => v.setUint16(4, 2, true))))).toBe('ERR_FORMAT');
      expect(codeOf(() => CsrMatrix.deserialize(edit((b) => (b[6] = 3))))).toBe('ERR_FORMAT');
      const longer = new Uint8Array(bytes.byteLength + 8);
      longer.set(bytes);
      expect(codeOf(() => CsrMatrix.deserialize(longer))).toBe('ERR_FORMAT');
      expect(codeOf(() => CsrMatrix.deserialize([1, 2] as never))).toBe('ERR_ARG');
    });
    test('random byte flips never crash: either a valid matrix or ERR_FORMAT', () => {
      const r = rng(3);
      for (let i = 0; i < 300; i++) {
        const b = bytes.slice();
        b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
        const code = codeOf(() => CsrMatrix.deserialize(b));
        expect(code === undefined || code === 'ERR_FORMAT').toBe(true);
      }
    });
  });

  test('constructor validates arrays it is given', () => {
    const rp = new Uint32Array([0, 1, 2]);
    const ok = new CsrMatrix([2, 3], rp, new Uint16Array([0, 2]), new Float32Array([1, 2]), 'f32');
    expect(Array.from(ok.toDense().data)).toEqual([1, 0, 0, 0, 0, 2]);
    const mk = (r: Uint32Array, c: Uint16Array | Uint32Array, v: Float32Array | Uint16Array, dt: 'f32' | 'bf16' = 'f32') =>
      codeOf(() => new CsrMatrix([2, 3], r, c, v, dt));
    expect(mk(new Uint32Array([0, 2, 1]), new Uint16Array([0, 1]), new Float32Array(2))).toBe('ERR_FORMAT');
    expect(mk(new Uint32Array([1, 1, 2]), new Uint16Array([0, 1]), new Float32Array(2))).toBe('ERR_FORMAT');
    expect(mk(new Uint32Array([0, 1]), new Uint16Array([0]), new Float32Array(1))).toBe('ERR_FORMAT');
    expect(mk(rp, new Uint16Array([0, 3]), new Float32Array(2))).toBe('ERR_FORMAT');
    expect(mk(rp, new Uint16Array([0, 1]), new Float32Array(3))).toBe('ERR_FORMAT');
    expect(mk(rp, new Uint16Array([0, 1]), new Float32Array(2), 'bf16')).toBe('ERR_FORMAT');
    expect(codeOf(() => new CsrMatrix([2, -3] as never, rp, new Uint16Array([0, 1]), new Float32Array(2), 'f32'))).toBe('ERR_SHAPE');
  });

  test('matmul: shape mismatch is ERR_SHAPE; y equals dense matmul', () => {
    const w = pruned(9, 14, 0.8, 4);
    const c = toCsr(w);
    expect(codeOf(() => matmul(Tensor.random([2, 13], 1), c, { backend: 'js' }))).toBe('ERR_SHAPE');
    expect(codeOf(() => matmul(Tensor.random([2, 13], 1), c))).toBe('ERR_SHAPE');
    const x = Tensor.random([3, 14], 2);
    const want = Array.from(matmul(x, w, { backend: 'js' }).data);
    const got = Array.from(matmul(x, c, { backend: 'js' }).data);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
  });
});

test('matmul refuses look-alike objects that are not real sparse matrices', () => {
  const x = Tensor.random([1, 4], 1);
  const fake = { format: 'csr', shape: [2, 4], toDense: () => Tensor.random([2, 4], 2) };
  expect(codeOf(() => matmul(x, fake as never))).toBe('ERR_ARG');
  expect(codeOf(() => matmul(x, { format: 'csr', toDense: () => 0 } as never))).toBe('ERR_ARG');
});
