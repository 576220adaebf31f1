/**
 * The byte-buffer container every sparse format serialises into. Layout (little-endian):
 *
 *   0  'SPNN'                4 bytes magic
 *   4  version               u16 (CONTAINER_VERSION)
 *   6  format tag            u8  (1 csr, 2 nm, 3 bsr, 4 bitmap)
 *   7  dtype code            u8  (0 f32, 1 bf16, 2 f16)
 *   8  header field count H  u32
 *  12  array count A         u32
 *  16  H header fields       f64 each, non-negative safe integers (shape, nnz, block size, ...)
 *      A array descriptors   16 bytes each: u32 element kind, u32 zero, f64 element count
 *      array data            each starting at a multiple of 8 bytes, zero padding between
 *
 * The buffer is untrusted: readContainer checks every count and every size against the
 * buffer length before it allocates or copies anything, and requires the total to match
 * exactly, so a truncated buffer or a lying header throws ERR_FORMAT instead of reading
 * out of bounds. Format files then validate() the arrays' contents.
 */
import { DTYPE_CODE, type DType } from '../dtype';
import { SparsennError } from '../errors';
import type { SparseFormat } from './types';

export const CONTAINER_VERSION = 1;
const MAGIC = [0x53, 0x50, 0x4e, 0x4e]; // 'SPNN'
const FORMAT_TAG: Record<SparseFormat, number> = { csr: 1, nm: 2, bsr: 3, bitmap: 4 };
const MAX_HEADER_FIELDS = 64;
const MAX_ARRAYS = 16;
const FIXED_BYTES = 16;
const DESCRIPTOR_BYTES = 16;

export type ContainerArray = Uint8Array | Uint16Array | Uint32Array | Float32Array;
type ArrayKind = 1 | 2 | 3 | 4;
const KIND_OF = (a: ContainerArray): ArrayKind =>
  a instanceof Uint8Array ? 1 : a instanceof Uint16Array ? 2 : a instanceof Uint32Array ? 3 : 4;
const KIND_BYTES: Record<ArrayKind, number> = { 1: 1, 2: 2, 3: 4, 4: 4 };

export interface Container {
  format: SparseFormat;
  dtype: DType;
  header: number[];
  arrays: ContainerArray[];
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

function fail(what: string): never {
  throw new SparsennError('ERR_FORMAT', `sparse buffer: ${what}`);
}

export function writeContainer(c: Container): Uint8Array {
  let size = FIXED_BYTES + c.header.length * 8 + c.arrays.length * DESCRIPTOR_BYTES;
  const offsets: number[] = [];
  for (const a of c.arrays) {
    size = align8(size);
    offsets.push(size);
    size += a.byteLength;
  }
  size = align8(size);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint16(4, CONTAINER_VERSION, true);
  view.setUint8(6, FORMAT_TAG[c.format]);
  view.setUint8(7, DTYPE_CODE[c.dtype]);
  view.setUint32(8, c.header.length, true);
  view.setUint32(12, c.arrays.length, true);
  let p = FIXED_BYTES;
  for (const h of c.header) {
    view.setFloat64(p, h, true);
    p += 8;
  }
  c.arrays.forEach((a, i) => {
    view.setUint32(p, KIND_OF(a), true);
    view.setFloat64(p + 8, a.length, true);
    p += DESCRIPTOR_BYTES;
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offsets[i]!);
  });
  return out;
}

/**
 * Parses a container and checks it holds `format` with the given number of header fields and
 * array kinds (`kinds[i]` lists the typed-array kinds array i may have). Arrays are copied out.
 */
export function readContainer(
  bytes: unknown,
  format: SparseFormat,
  headerFields: number,
  kinds: readonly (readonly ('u8' | 'u16' | 'u32' | 'f32')[])[],
): Container {
  if (!(bytes instanceof Uint8Array)) throw new SparsennError('ERR_ARG', 'deserialize: bytes must be a Uint8Array');
  const len = bytes.byteLength;
  if (len < FIXED_BYTES) fail(`${len} bytes is shorter than the ${FIXED_BYTES}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, len);
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) fail("missing 'SPNN' magic");
  const version = view.getUint16(4, true);
  if (version !== CONTAINER_VERSION) fail(`version ${version} is not supported (this build reads ${CONTAINER_VERSION})`);
  const tag = view.getUint8(6);
  if (tag !== FORMAT_TAG[format]) fail(`holds format tag ${tag}, expected ${FORMAT_TAG[format]} (${format})`);
  const dcode = view.getUint8(7);
  const dtype = (['f32', 'bf16', 'f16'] as const)[dcode];
  if (dtype === undefined) fail(`unknown dtype code ${dcode}`);
  const nh = view.getUint32(8, true);
  const na = view.getUint32(12, true);
  if (nh > MAX_HEADER_FIELDS || nh !== headerFields) fail(`has ${nh} header fields, expected ${headerFields}`);
  if (na > MAX_ARRAYS || na !== kinds.length) fail(`has ${na} arrays, expected ${kinds.length}`);
  const tableEnd = FIXED_BYTES + nh * 8 + na * DESCRIPTOR_BYTES;
  if (tableEnd > len) fail(`truncated: header needs ${tableEnd} bytes, buffer has ${len}`);
  const header: number[] = [];
  let p = FIXED_BYTES;
  for (let i = 0; i < nh; i++, p += 8) {
    const h = view.getFloat64(p, true);
    if (!Number.isSafeInteger(h) || h < 0) fail(`header field ${i} is ${h}, not a non-negative integer`);
    header.push(h);
  }
  // First pass: sizes and offsets only, all checked against the buffer length.
  const layout: { kind: ArrayKind; count: number; offset: number }[] = [];
  let end = tableEnd;
  for (let i = 0; i < na; i++, p += DESCRIPTOR_BYTES) {
    const kind = view.getUint32(p, true);
    const count = view.getFloat64(p + 8, true);
    const names = ['', 'u8', 'u16', 'u32', 'f32'];
    if (kind < 1 || kind > 4 || !kinds[i]!.includes(names[kind] as 'u8')) fail(`array ${i} has element kind ${kind}, expected ${kinds[i]!.join(' or ')}`);
    if (!Number.isSafeInteger(count) || count < 0) fail(`array ${i} length ${count} is not a non-negative integer`);
    const offset = align8(end);
    const byteLen = count * KIND_BYTES[kind as ArrayKind];
    if (byteLen > len || offset + byteLen > len) fail(`truncated: array ${i} needs ${offset + byteLen} bytes, buffer has ${len}`);
    layout.push({ kind: kind as ArrayKind, count, offset });
    end = offset + byteLen;
  }
  if (align8(end) !== len) fail(`length ${len} does not match its header (expected ${align8(end)} bytes)`);
  // Second pass: copy into fresh, aligned arrays.
  const arrays = layout.map(({ kind, count, offset }): ContainerArray => {
    const raw = bytes.slice(offset, offset + count * KIND_BYTES[kind]).buffer;
    return kind === 1 ? new Uint8Array(raw) : kind === 2 ? new Uint16Array(raw) : kind === 3 ? new Uint32Array(raw) : new Float32Array(raw);
  });
  return { format, dtype, header, arrays };
}
