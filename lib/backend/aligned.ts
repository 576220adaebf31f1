/**
 * Typed arrays whose first element sits on a cache-line boundary. Node's large ArrayBuffers come
 * from malloc and usually start 16 bytes past a 64-byte line, so a 256-byte KV row (head dim 128,
 * f16) spans five lines instead of four: a kernel that reads rows scattered by a token list
 * (Double Sparsity) or a page list (Quest) then fetches 25% more lines, the last one often without
 * a prefetch. Aligning the array makes every row whose size is a multiple of 64 bytes start on a
 * line. JavaScript cannot see addresses, so the native addon reports the buffer's (addressAlignment, modulo 2 MiB);
 * without it the array is allocated plainly.
 */
import { nativeBinding } from './native';

type AlignedArray = Float32Array | Uint16Array | Uint8Array | Int8Array | Uint32Array;
type AlignedArrayCtor<T extends AlignedArray> = {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  new (length: number): T;
  readonly BYTES_PER_ELEMENT: number;
};

/** A zeroed array of `length` elements whose first byte is `align`-byte aligned (a power of two, at most 2 MiB). */
export function alignedArray<T extends AlignedArray>(ctor: AlignedArrayCtor<T>, length: number, align = 64): T {
  const native = nativeBinding();
  if (!native || length === 0) return new ctor(length);
  const buffer = new ArrayBuffer(length * ctor.BYTES_PER_ELEMENT + align);
  const misalignment = native.addressAlignment(new Uint8Array(buffer, 0, 1)) % align;
  const offset = (align - misalignment) % align;
  return new ctor(buffer, offset, length);
}
