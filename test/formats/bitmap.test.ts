/** Bitmap format: round trips, storage size, serialisation, and corrupted inputs that must throw ERR_FORMAT. */
import { BitmapMatrix, isSparseMatrix, matmul, matmulAsync, SparsennError, Tensor, toBitmap, toCsr } from '../../lib/index';
import { codeOf, pruned, rng } from '../helpers';

const popcount = (v: number) => {
  let c = 0;
  for (; v; v &= v - 1) c++;
  return c;
};

describe('bitmap format', () => {
  test.each(['f32', 'bf16', 'f16'] as const)('toDense(fromDense(w)) == w for %s over shapes and sparsities', (dtype) => {
    for (const [N, K, s] of [
      [1, 1, 0],
      [7, 13, 0.5],
      [3, 16, 0.3],
      [33, 65, 0.9],
      [16, 300, 0.99],
      [5, 8, 1],
      [4, 0, 0.5],
      [0, 9, 0.5],
    ] as const) {
      const w = pruned(N, K, s, N * 31 + K).to(dtype);
      const b = toBitmap(w);
      expect(b.dtype).toBe(dtype);
      expect(b.format).toBe('bitmap');
      expect(Array.from(b.toDense().data)).toEqual(Array.from(w.data));
      let nz = 0;
      for (const v of w.toFloat32()) if (v !== 0) nz++;
      expect(b.nnz).toBe(nz);
      const G = Math.ceil(K / 16);
      expect(b.groups).toBe(G);
      expect(b.masks.length).toBe(N * G);
      expect(b.bytes).toBe(2 * N * G + 4 * (N + 1) + (dtype === 'f32' ? 4 : 2) * nz);
      expect(isSparseMatrix(b)).toBe(true);
    }
  });

  test('the layout: bit i of mask g keeps column 16g + i; values packed in column order per row', () => {
    const d = new Float32Array(2 * 20);
    d[0] = 1; // row 0, col 0
    d[17] = 2; // row 0, col 17 -> group 1 bit 1
    d[20 + 15] = 3; // row 1, col 15 -> group 0 bit 15
    d[20 + 19] = 4; // row 1, col 19 -> group 1 bit 3
    const b = toBitmap(new Tensor(d, [2, 20]));
    expect(Array.from(b.masks)).toEqual([1, 2, 0x8000, 8]);
    expect(Array.from(b.rowPtr)).toEqual([0, 2, 4]);
    expect(Array.from(b.values)).toEqual([1, 2, 3, 4]);
  });

  test('uses fewer bytes than CSR with u16 indices at 70% and 90% (f32)', () => {
    for (const s of [0.7, 0.9]) {
      const w = pruned(64, 512, s, 5);
      expect(toBitmap(w).bytes).toBeLessThan(toCsr(w).bytes);
    }
  });

  test('dtype option converts values; zeros are found after conversion; bad options', () => {
    const w = new Tensor(new Float32Array([1, 0, -0, 2.5, 1e-30, 0]), [2, 3]);
    const b = toBitmap(w, { dtype: 'f16' });
    expect(b.dtype).toBe('f16');
    expect(b.nnz).toBe(2); // 1e-30 underflows to zero in f16, -0 is zero
    expect(Array.from(b.toDense().toFloat32())).toEqual([1, 0, 0, 2.5, 0, 0]);
    expect(codeOf(() => toBitmap(w, { dtype: 'f64' as never }))).toBe('ERR_DTYPE');
    expect(codeOf(() => toBitmap(w, { block: 3 } as never))).toBe('ERR_ARG');
    expect(codeOf(() => toBitmap(new Tensor(new Float32Array(8), [2, 2, 2])))).toBe('ERR_SHAPE');
    expect(codeOf(() => toBitmap([1, 2] as never))).toBe('ERR_ARG');
  });

  test.each(['f32', 'bf16', 'f16'] as const)('serialize / deserialize round trip (%s)', (dtype) => {
    const b = toBitmap(pruned(19, 41, 0.7, 5).to(dtype));
    const bytes = b.serialize();
    expect(bytes.byteLength % 8).toBe(0);
    const d = BitmapMatrix.deserialize(bytes);
    expect(d.shape).toEqual(b.shape);
    expect(d.dtype).toBe(dtype);
    expect(Array.from(d.masks)).toEqual(Array.from(b.masks));
    expect(Array.from(d.rowPtr)).toEqual(Array.from(b.rowPtr));
    expect(Array.from(d.values)).toEqual(Array.from(b.values));
    const shifted = new Uint8Array(bytes.byteLength + 3);
    shifted.set(bytes, 3);
    expect(Array.from(BitmapMatrix.deserialize(shifted.subarray(3)).toDense().data)).toEqual(Array.from(b.toDense().data));
  });

  describe('validate() catches every kind of inconsistency', () => {
    const good = () => toBitmap(pruned(5, 37, 0.6, 9)); // 3 groups per row, the last one 5 columns wide
    const remake = (b: BitmapMatrix, edit: { masks?: Uint16Array; rowPtr?: Uint32Array; values?: Float32Array | Uint16Array }) =>
      codeOf(() => new BitmapMatrix(b.shape, edit.masks ?? b.masks, edit.rowPtr ?? b.rowPtr, edit.values ?? b.values, b.dtype));

    test('the untouched arrays are accepted', () => {
      const b = good();
      expect(remake(b, {})).toBeUndefined();
    });
    test('a mask that keeps one value more or less than its row offsets say', () => {
      const b = good();
      for (const at of [0, 4, 7, 14]) {
        const m = b.masks.slice();
        m[at] = m[at]! ^ (1 << (at % 5)); // flips one bit: popcount changes by one
        expect(remake(b, { masks: m })).toBe('ERR_FORMAT');
      }
    });
    test('moving kept bits between rows (totals unchanged) is caught per row', () => {
      const b = good();
      const m = b.masks.slice();
      const bit0 = m[0]! & -m[0]!;
      expect(bit0).not.toBe(0);
      m[0] = m[0]! & ~bit0; // row 0 loses one
      const free = ~m[3]! & 0xffff & -(~m[3]! & 0xffff);
      m[3] = m[3]! | free; // row 1 gains one
      expect(remake(b, { masks: m })).toBe('ERR_FORMAT');
    });
    test('a mask bit past K in the last group of a row', () => {
      const b = good();
      const m = b.masks.slice();
      const rp = b.rowPtr.slice();
      // Keep popcounts consistent by clearing a real bit of that row and setting bit 5 of its last group.
      const row = 2;
      const g0 = m[row * 3]!;
      const bit = g0 & -g0;
      expect(bit).not.toBe(0);
      m[row * 3] = g0 & ~bit;
      m[row * 3 + 2] = m[row * 3 + 2]! | (1 << 5);
      expect(popcount(m[row * 3]!) + popcount(m[row * 3 + 1]!) + popcount(m[row * 3 + 2]!)).toBe(rp[row + 1]! - rp[row]!);
      expect(remake(b, { masks: m })).toBe('ERR_FORMAT');
    });
    test('row offsets: not starting at 0, decreasing, wrong total, wrong length', () => {
      const b = good();
      const rp0 = b.rowPtr.slice();
      rp0[0] = 1;
      expect(remake(b, { rowPtr: rp0 })).toBe('ERR_FORMAT');
      const dec = b.rowPtr.slice();
      dec[2] = dec[1]! - 1;
      expect(remake(b, { rowPtr: dec })).toBe('ERR_FORMAT');
      const end = b.rowPtr.slice();
      end[5] = end[5]! + 1;
      expect(remake(b, { rowPtr: end })).toBe('ERR_FORMAT');
      expect(remake(b, { rowPtr: b.rowPtr.subarray(1) })).toBe('ERR_FORMAT');
    });
    test('masks or values of the wrong length or type', () => {
      const b = good();
      expect(remake(b, { masks: b.masks.subarray(1) })).toBe('ERR_FORMAT');
      expect(remake(b, { values: (b.values as Float32Array).subarray(1) })).toBe('ERR_FORMAT');
      expect(remake(b, { values: new Uint16Array(b.nnz) })).toBe('ERR_FORMAT'); // f32 matrix, u16 values
      expect(remake(b, { masks: new Uint32Array(b.masks.length) as never })).toBe('ERR_FORMAT');
      expect(remake(b, { rowPtr: new Uint16Array(6) as never })).toBe('ERR_FORMAT');
      expect(codeOf(() => new BitmapMatrix([5, -1] as never, b.masks, b.rowPtr, b.values, 'f32'))).toBe('ERR_SHAPE');
    });
  });

  describe('corrupted buffers throw ERR_FORMAT', () => {
    const b = toBitmap(pruned(6, 20, 0.6, 9));
    const bytes = b.serialize();
    // 16-byte fixed header, 2 header fields, 3 descriptors, then 8-aligned arrays: rowPtr, masks, values.
    const rowPtrAt = 16 + 2 * 8 + 3 * 16;
    const masksAt = rowPtrAt + Math.ceil((4 * 7) / 8) * 8;
    const edit = (f: (b: Uint8Array, v: DataView) => void) => {
      const c = bytes.slice();
      f(c, new DataView(c.buffer));
      return c;
    };
    test('the untouched buffer reads back', () => {
      expect(BitmapMatrix.deserialize(bytes).nnz).toBe(b.nnz);
    });
    test('a flipped mask bit, row offsets out of order, a bit past K', () => {
      expect(codeOf(() => BitmapMatrix.deserialize(edit((_, v) => v.setUint16(masksAt, v.getUint16(masksAt, true) ^ 1, true))))).toBe('ERR_FORMAT');
      expect(codeOf(() => BitmapMatrix.deserialize(edit((_, v) => v.setUint32(rowPtrAt + 4 * 3, 1000, true))))).toBe('ERR_FORMAT');
      expect(codeOf(() => BitmapMatrix.deserialize(edit((_, v) => v.setUint16(masksAt + 2, v.getUint16(masksAt + 2, true) | 0x8000, true))))).toBe('ERR_FORMAT');
    });
    test('truncated at every length', () => {
      for (let n = 0; n < bytes.byteLength; n += 3) expect(codeOf(() => BitmapMatrix.deserialize(bytes.subarray(0, n)))).toBe('ERR_FORMAT');
    });
    test('header lies: shape, counts, kinds, dtype, format tag', () => {
      expect(codeOf(() => BitmapMatrix.deserialize(edit((_, v) => v.setFloat64(16, 7, true))))).toBe('ERR_FORMAT'); // N
      expect(codeOf(() => BitmapMatrix.deserialize(edit((_, v) => v.setFloat64(16 + 8, 40, true))))).toBe('ERR_FORMAT'); // K: 3 groups
      expect(codeOf(() => BitmapMatrix.deserialize(edit((_, v) => v.setFloat64(16 + 16 + 16 + 8, 2 ** 40, true))))).toBe('ERR_FORMAT');
      expect(codeOf(() => BitmapMatrix.deserialize(edit((_, v) => v.setUint32(16 + 16 + 16, 3, true))))).toBe('ERR_FORMAT'); // masks as u32
      expect(codeOf(() => BitmapMatrix.deserialize(edit((b) => (b[7] = 1))))).toBe('ERR_FORMAT'); // bf16 with f32 values
      expect(codeOf(() => BitmapMatrix.deserialize(edit((b) => (b[6] = 1))))).toBe('ERR_FORMAT'); // a CSR tag
      expect(codeOf(() => BitmapMatrix.deserialize(toCsr(pruned(6, 20, 0.6, 9)).serialize()))).toBe('ERR_FORMAT');
      expect(codeOf(() => BitmapMatrix.deserialize('x' as never))).toBe('ERR_ARG');
    });
    test('random byte flips never crash: either a valid matrix or ERR_FORMAT', () => {
      const r = rng(3);
      for (let i = 0; i < 300; i++) {
        const c = bytes.slice();
        c[Math.floor(r() * c.length)] = Math.floor(r() * 256);
        const code = codeOf(() => BitmapMatrix.deserialize(c));
        expect(code === undefined || code === 'ERR_FORMAT').toBe(true);
      }
    });
  });

  test('matmul (js): shape mismatch is ERR_SHAPE; y equals the dense matmul; an edited matrix is refused', async () => {
    const w = pruned(9, 37, 0.8, 4);
    const b = toBitmap(w);
    expect(codeOf(() => matmul(Tensor.random([2, 36], 1), b, { backend: 'js' }))).toBe('ERR_SHAPE');
    const x = Tensor.random([3, 37], 2);
    const want = Array.from(matmul(x, w, { backend: 'js' }).data);
    const got = Array.from(matmul(x, b, { backend: 'js' }).data);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    const gotAsync = Array.from((await matmulAsync(x, b, { backend: 'js' })).data);
    expect(gotAsync).toEqual(got);
    b.masks[0] = b.masks[0]! ^ 1;
    expect(() => matmul(x, b, { backend: 'js' })).toThrow(SparsennError);
    await expect(matmulAsync(x, b, { backend: 'js' })).rejects.toMatchObject({ code: 'ERR_FORMAT' });
  });
});
