import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../lib/dtype';
import { SparsennError, Tensor } from '../lib/index';

describe('Tensor', () => {
  test('holds data, shape and dtype', () => {
    const t = new Tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    expect(t.dtype).toBe('f32');
    expect(t.shape).toEqual([2, 3]);
    expect(t.size).toBe(6);
    expect(t.bytes).toBe(24);
    expect(Array.from(t.toFloat32())).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('accepts a plain number array', () => {
    const t = new Tensor([1.5, -2], [2]);
    expect(t.data).toBeInstanceOf(Float32Array);
  });

  test.each([
    [[2, 2], new Float32Array(3), 'ERR_SHAPE'],
    [[-1, 2], new Float32Array(2), 'ERR_SHAPE'],
    [[1.5, 2], new Float32Array(3), 'ERR_SHAPE'],
    [[NaN], new Float32Array(1), 'ERR_SHAPE'],
    [[Infinity], new Float32Array(1), 'ERR_SHAPE'],
  ])('bad shape %p is rejected', (shape, data, code) => {
    expect(() => new Tensor(data, shape as number[])).toThrow(expect.objectContaining({ code }));
  });

  test('dtype and data kind must agree', () => {
    expect(() => new Tensor(new Uint16Array(4), [4])).toThrow(expect.objectContaining({ code: 'ERR_DTYPE' }));
    expect(() => new Tensor(new Float32Array(4), [4], 'bf16')).toThrow(expect.objectContaining({ code: 'ERR_DTYPE' }));
    expect(() => new Tensor(new Float32Array(4), [4], 'f64' as 'f32')).toThrow(SparsennError);
    expect(() => new Tensor(new Float64Array(4) as unknown as Float32Array, [4])).toThrow(
      expect.objectContaining({ code: 'ERR_DTYPE' }),
    );
  });

  test('detached data is rejected', () => {
    const data = new Float32Array(8);
    structuredClone(data.buffer, { transfer: [data.buffer as ArrayBuffer] });
    expect(() => new Tensor(data, [8])).toThrow(expect.objectContaining({ code: 'ERR_DETACHED' }));
  });

  test('bf16 conversion rounds to nearest even', () => {
    // 1 + 2^-8 lies exactly halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to the even one (1).
    expect(bf16ToF32(f32ToBf16(1 + 2 ** -8))).toBe(1);
    // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up.
    expect(bf16ToF32(f32ToBf16(1 + 3 * 2 ** -8))).toBe(1 + 2 ** -6);
    expect(bf16ToF32(f32ToBf16(1 + 2 ** -8 + 2 ** -20))).toBe(1 + 2 ** -7);
    expect(Number.isNaN(bf16ToF32(f32ToBf16(NaN)))).toBe(true);
    expect(bf16ToF32(f32ToBf16(-Infinity))).toBe(-Infinity);
  });

  test('f16 conversion rounds to nearest even, handles subnormals and overflow', () => {
    expect(f16ToF32(f32ToF16(1 + 2 ** -11))).toBe(1); // tie -> even
    expect(f16ToF32(f32ToF16(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9);
    expect(f16ToF32(f32ToF16(2 ** -24))).toBe(2 ** -24); // smallest subnormal
    expect(f16ToF32(f32ToF16(2 ** -26))).toBe(0); // below half of it -> 0
    expect(f16ToF32(f32ToF16(3 * 2 ** -25))).toBe(2 ** -23); // 1.5 ulp tie -> even (2 ulp)
    expect(f16ToF32(f32ToF16(65504))).toBe(65504);
    expect(f16ToF32(f32ToF16(65520))).toBe(Infinity); // rounds past max -> inf
    expect(f16ToF32(f32ToF16(-1e9))).toBe(-Infinity);
    expect(Number.isNaN(f16ToF32(f32ToF16(NaN)))).toBe(true);
  });

  test('to() converts between dtypes within half-precision error', () => {
    const t = Tensor.random([5, 7], 3);
    for (const dt of ['bf16', 'f16'] as const) {
      const h = t.to(dt);
      expect(h.dtype).toBe(dt);
      expect(h.data).toBeInstanceOf(Uint16Array);
      const back = h.toFloat32();
      const tol = dt === 'bf16' ? 2 ** -8 : 2 ** -11;
      t.toFloat32().forEach((v, i) => expect(Math.abs(back[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * tol + 1e-7));
      expect(h.to('f32').dtype).toBe('f32');
    }
    expect(t.to('f32')).toBe(t);
  });

  test('every f16 bit pattern round-trips through f32', () => {
    for (let h = 0; h < 0x10000; h++) {
      const f = f16ToF32(h);
      if (Number.isNaN(f)) continue;
      expect(f32ToF16(f)).toBe(h);
    }
  });
});
