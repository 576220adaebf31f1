/** Element types of stored weights, and exact f32 <-> bf16 / f16 conversions (round to nearest even). */
import { SparsennError } from './errors';

export type DType = 'f32' | 'bf16' | 'f16';
export const DTYPES: readonly DType[] = ['f32', 'bf16', 'f16'];

/** The numeric code the native addon uses for each dtype. */
export const DTYPE_CODE: Record<DType, 0 | 1 | 2> = { f32: 0, bf16: 1, f16: 2 };

export function bytesPerElement(dtype: DType): number {
  return dtype === 'f32' ? 4 : 2;
}

export function checkDType(dtype: unknown, what = 'dtype'): DType {
  if (dtype === 'f32' || dtype === 'bf16' || dtype === 'f16') return dtype;
  throw new SparsennError('ERR_DTYPE', `${what} must be 'f32', 'bf16' or 'f16', got ${String(dtype)}`);
}

// Shared scratch for bit casts; conversions are synchronous so one pair suffices.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32ToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) return ((bits >>> 16) | 0x40) & 0xffff; // quiet NaN
  // Round to nearest, ties to even, on the 16 bits that are dropped.
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

export function bf16ToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

export function f32ToF16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0); // inf / NaN
  const e = exp - 127 + 15; // rebias
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    // Subnormal half (or zero): shift the implicit-1 mantissa right, rounding to nearest even.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let out = mant >>> shift;
    if (rest > half || (rest === half && (out & 1) === 1)) out += 1;
    return sign | out;
  }
  let out = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (out & 1) === 1)) out += 1; // may carry into exp: correct (rounds up to inf)
  return sign | out;
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Converts an f32 array to bf16 or f16 bits. */
export function encodeHalf(src: Float32Array, dtype: 'bf16' | 'f16'): Uint16Array {
  const out = new Uint16Array(src.length);
  const conv = dtype === 'bf16' ? f32ToBf16 : f32ToF16;
  for (let i = 0; i < src.length; i++) out[i] = conv(src[i]!);
  return out;
}

/** Converts bf16 or f16 bits to f32. */
export function decodeHalf(src: Uint16Array, dtype: 'bf16' | 'f16'): Float32Array {
  const out = new Float32Array(src.length);
  if (dtype === 'bf16') {
    new Uint32Array(out.buffer).set(src); // widen, then shift into the high half
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < bits.length; i++) bits[i] = bits[i]! << 16;
  } else {
    for (let i = 0; i < src.length; i++) out[i] = f16ToF32(src[i]!);
  }
  return out;
}

/** Reads element i of a weight buffer of the given dtype as f32. */
export function elementReader(data: Float32Array | Uint16Array, dtype: DType): (i: number) => number {
  if (dtype === 'f32') return (i) => data[i]!;
  return dtype === 'bf16' ? (i) => bf16ToF32(data[i]!) : (i) => f16ToF32(data[i]!);
}
