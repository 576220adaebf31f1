/**
 * safetensors: 8-byte little-endian header length N, N bytes of JSON
 * { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} }, then the data.
 * The JSON is untrusted: every entry's dtype, shape, byte count and offsets are checked
 * against each other and the file size before a tensor is read.
 */
import { open } from 'node:fs/promises';
import type { DType } from '../dtype';
import { Tensor } from '../tensor';
import { ModelFile, modelFileError } from './model_file';

const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const DTYPES: Record<string, { dtype: DType; bytes: number }> = {
  F32: { dtype: 'f32', bytes: 4 },
  F16: { dtype: 'f16', bytes: 2 },
  BF16: { dtype: 'bf16', bytes: 2 },
};
const KNOWN_UNSUPPORTED = new Set(['F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'U16', 'U32', 'U64', 'BOOL', 'F8_E4M3', 'F8_E5M2']);

export interface SafetensorsEntry {
  name: string;
  /** The file's dtype string (F32, F16, BF16, ...). */
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

/** Element arrays of the integer dtypes sparse weights use (see sparse_safetensors.ts). */
export type RawArrayDType = 'F32' | 'F16' | 'BF16' | 'U8' | 'U16' | 'U32';
export interface RawArray {
  dtype: RawArrayDType;
  shape: number[];
  data: Float32Array | Uint16Array | Uint8Array | Uint32Array;
}

/**
 * Parses the header JSON. When `metadata` is given, the string pairs of "__metadata__" are
 * copied into it (the safetensors spec allows only strings there; anything else is refused).
 */
export function parseSafetensorsHeader(
  json: Uint8Array,
  dataStart: number,
  fileSize: number,
  file: string,
  metadata?: Map<string, string>,
): Map<string, SafetensorsEntry> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    throw modelFileError(file, `safetensors header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw modelFileError(file, 'safetensors header must be a JSON object');
  const dataSize = fileSize - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw modelFileError(file, '__metadata__ must be an object of strings');
      for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
        if (typeof val !== 'string') throw modelFileError(file, `__metadata__ entry ${JSON.stringify(k)} must be a string`);
        metadata?.set(k, val);
      }
      continue;
    }
    const bad = (problem: string) => modelFileError(file, `tensor ${JSON.stringify(name)}: ${problem}`);
    if (typeof v !== 'object' || v === null) throw bad('entry must be an object');
    const { dtype, shape, data_offsets: offs } = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !(dtype in DTYPES || KNOWN_UNSUPPORTED.has(dtype))) throw bad(`unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || shape.length > 8 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw bad(`shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw bad(`data_offsets must be [begin, end], got ${JSON.stringify(offs)}`);
    const [b, e] = offs as [number, number];
    if (b > e) throw bad(`data_offsets [${b}, ${e}] run backwards`);
    if (e > dataSize) throw bad(`data_offsets [${b}, ${e}] lie past the end of the data (${dataSize} bytes; truncated file?)`);
    const elSize = DTYPES[dtype]?.bytes ?? (dtype === 'F64' || dtype.endsWith('64') ? 8 : dtype.endsWith('32') ? 4 : dtype.endsWith('16') ? 2 : 1);
    let count = 1;
    for (const d of shape as number[]) count *= d;
    if (!Number.isSafeInteger(count * elSize) || count * elSize !== e - b)
      throw bad(`shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${count * elSize} bytes, data_offsets give ${e - b}`);
    entries.set(name, { name, dtype, shape: shape as number[], begin: dataStart + b, end: dataStart + e });
  }
  // Tensors must not overlap (each byte belongs to one tensor).
  const sorted = [...entries.values()].sort((a, c) => a.begin - c.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.begin < sorted[i - 1]!.end)
      throw modelFileError(file, `tensors ${JSON.stringify(sorted[i - 1]!.name)} and ${JSON.stringify(sorted[i]!.name)} overlap`);
  }
  return entries;
}

export class SafetensorsFile {
  private constructor(
    private readonly f: ModelFile,
    readonly entries: Map<string, SafetensorsEntry>,
    /** The header's "__metadata__" string pairs. */
    readonly metadata: ReadonlyMap<string, string>,
  ) {}

  get path(): string {
    return this.f.path;
  }

  static async open(path: string): Promise<SafetensorsFile> {
    const f = await ModelFile.open(path);
    try {
      if (f.size < 8) throw modelFileError(path, `safetensors file of ${f.size} bytes has no header`);
      const lenBytes = await f.readBytes(0, 8, 'header length');
      const n = new DataView(lenBytes.buffer).getBigUint64(0, true);
      if (n > BigInt(Math.min(MAX_HEADER_BYTES, f.size - 8)))
        throw modelFileError(path, `safetensors header claims ${n} bytes; the file has ${f.size} (limit ${MAX_HEADER_BYTES})`);
      const len = Number(n);
      const json = await f.readBytes(8, len, 'header');
      const metadata = new Map<string, string>();
      const entries = parseSafetensorsHeader(json, 8 + len, f.size, path, metadata);
      return new SafetensorsFile(f, entries, metadata);
    } catch (e) {
      await f.close();
      throw e;
    }
  }

  /** Reads a tensor, checking its shape; f32/f16/bf16 stay in their dtype. */
  async read(name: string, shape: readonly number[]): Promise<Tensor> {
    const e = this.entries.get(name);
    if (!e) throw modelFileError(this.f.path, `tensor ${JSON.stringify(name)} is missing`);
    const dt = DTYPES[e.dtype];
    if (!dt) throw modelFileError(this.f.path, `tensor ${JSON.stringify(name)}: dtype ${e.dtype} is not supported (use F32, F16 or BF16)`);
    if (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i]))
      throw modelFileError(this.f.path, `tensor ${JSON.stringify(name)}: shape [${e.shape.join(', ')}] does not match the config's [${shape.join(', ')}]`);
    const count = e.shape.reduce((a, b) => a * b, 1);
    const data = dt.dtype === 'f32' ? new Float32Array(count) : new Uint16Array(count);
    await this.f.readInto(data, e.begin, `tensor ${JSON.stringify(name)}`);
    return new Tensor(data, e.shape, dt.dtype);
  }

  /**
   * Reads a tensor of any dtype in RawArrayDType as its raw elements (no shape check: the
   * caller checks the entry's dtype and shape first; the byte count was checked against the
   * file when the header was parsed, so the allocation is bounded by the file size).
   */
  async readRaw(name: string): Promise<RawArray> {
    const e = this.entries.get(name);
    if (!e) throw modelFileError(this.f.path, `tensor ${JSON.stringify(name)} is missing`);
    const count = e.shape.reduce((a, b) => a * b, 1);
    let data: RawArray['data'];
    if (e.dtype === 'F32') data = new Float32Array(count);
    else if (e.dtype === 'F16' || e.dtype === 'BF16' || e.dtype === 'U16') data = new Uint16Array(count);
    else if (e.dtype === 'U8') data = new Uint8Array(count);
    else if (e.dtype === 'U32') data = new Uint32Array(count);
    else throw modelFileError(this.f.path, `tensor ${JSON.stringify(name)}: dtype ${e.dtype} is not supported here`);
    await this.f.readInto(data, e.begin, `tensor ${JSON.stringify(name)}`);
    return { dtype: e.dtype, shape: [...e.shape], data };
  }

  async close(): Promise<void> {
    await this.f.close();
  }
}

const WRITE_DTYPE: Record<DType, string> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

/**
 * Writes tensors to a safetensors file (header padded to 8 bytes, as the reference writer does).
 * A tensor is a Tensor, or a RawArray for the integer arrays of sparse weights. The data is
 * written tensor by tensor, so no copy of the whole model is built in memory.
 */
export async function writeSafetensors(path: string, tensors: Record<string, Tensor | RawArray>, metadata?: Record<string, string>): Promise<void> {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  const names = Object.keys(tensors);
  const bytesOf = (t: Tensor | RawArray) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  for (const name of names) {
    const t = tensors[name]!;
    const n = t.data.byteLength;
    header[name] = { dtype: t instanceof Tensor ? WRITE_DTYPE[t.dtype] : t.dtype, shape: [...t.shape], data_offsets: [off, off + n] };
    off += n;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const jsonBytes = Buffer.from(json, 'utf8');
  const head = Buffer.alloc(8 + jsonBytes.length);
  head.writeBigUInt64LE(BigInt(jsonBytes.length), 0);
  jsonBytes.copy(head, 8);
  const fh = await open(path, 'w');
  try {
    await fh.write(head);
    for (const name of names) {
      const b = bytesOf(tensors[name]!);
      // FileHandle.write may write less than asked (and caps one call at 2 GiB): loop.
      for (let done = 0; done < b.length; ) {
        const { bytesWritten } = await fh.write(b, done, Math.min(b.length - done, 1 << 30));
        done += bytesWritten;
      }
    }
  } finally {
    await fh.close();
  }
}
