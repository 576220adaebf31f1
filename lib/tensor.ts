/** Tensor: a dtype, a shape and a typed array holding the elements in row-major order. */
import { bytesPerElement, checkDType, decodeHalf, encodeHalf, type DType } from './dtype';
import { SparsennError } from './errors';

export type TensorData = Float32Array | Uint16Array;

/** Checks that every size is a non-negative safe integer and returns their product. */
export function checkShape(shape: unknown, what = 'shape'): number {
  if (!Array.isArray(shape)) throw new SparsennError('ERR_SHAPE', `${what} must be an array of sizes`);
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
      throw new SparsennError('ERR_SHAPE', `${what} must hold non-negative integers, got [${shape.join(', ')}]`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new SparsennError('ERR_SHAPE', `${what} [${shape.join(', ')}] is too large`);
  return n;
}

/** True when the typed array's buffer has been transferred away. */
export function isDetached(a: ArrayBufferView): boolean {
  return a.buffer.byteLength === 0 && a.byteLength === 0 && (a as { length?: number }).length === 0;
}

export class Tensor {
  readonly data: TensorData;
  readonly shape: readonly number[];
  readonly dtype: DType;

  /**
   * @param data  Float32Array for 'f32'; Uint16Array of raw bits for 'bf16' / 'f16'.
   *              A plain number array is copied into a Float32Array.
   * @param shape sizes, row-major; their product must equal data.length.
   * @param dtype defaults to 'f32' for float data; required for Uint16Array data.
   */
  constructor(data: TensorData | readonly number[], shape: readonly number[], dtype?: DType) {
    const arr: unknown = Array.isArray(data) ? Float32Array.from(data as number[]) : data;
    const dt = dtype === undefined ? (arr instanceof Uint16Array ? undefined : 'f32') : checkDType(dtype);
    if (dt === undefined)
      throw new SparsennError('ERR_DTYPE', "a Uint16Array tensor needs an explicit dtype: 'bf16' or 'f16'");
    const want = dt === 'f32' ? Float32Array : Uint16Array;
    if (!(arr instanceof want))
      throw new SparsennError(
        'ERR_DTYPE',
        `dtype '${dt}' needs a ${want.name}, got ${(arr as object)?.constructor?.name ?? typeof arr}`,
      );
    const n = checkShape(shape);
    if (isDetached(arr) && n > 0) throw new SparsennError('ERR_DETACHED', 'tensor data is detached (its buffer was transferred)');
    if (arr.length !== n)
      throw new SparsennError('ERR_SHAPE', `shape [${shape.join(', ')}] needs ${n} elements, data has ${arr.length}`);
    this.data = arr;
    this.shape = Object.freeze([...shape]);
    this.dtype = dt;
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** Storage size in bytes. */
  get bytes(): number {
    return this.data.length * bytesPerElement(this.dtype);
  }

  /** A tensor of random values (uniform in [-scale, scale)) from a seeded generator: for tests and benchmarks. */
  static random(shape: readonly number[], seed = 1, scale = 1): Tensor {
    const n = checkShape(shape);
    const data = new Float32Array(n);
    let s = seed >>> 0 || 1;
    for (let i = 0; i < n; i++) {
      // xorshift32: fast, deterministic, good enough for test data.
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      data[i] = ((s / 4294967296) * 2 - 1) * scale;
    }
    return new Tensor(data, shape);
  }

  /** Converts to another dtype (round to nearest even when narrowing). Returns `this` when already that dtype. */
  to(dtype: DType): Tensor {
    const dt = checkDType(dtype);
    if (dt === this.dtype) return this;
    const f = this.toFloat32();
    return dt === 'f32' ? new Tensor(f, this.shape, 'f32') : new Tensor(encodeHalf(f, dt), this.shape, dt);
  }

  /** The elements as f32 (the data itself for an f32 tensor, else a new array). */
  toFloat32(): Float32Array {
    if (this.dtype === 'f32') return this.data as Float32Array;
    return decodeHalf(this.data as Uint16Array, this.dtype);
  }
}
