/**
 * safetensors: 8-byte little-endian header length N, N bytes of JSON
 * { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} }, then the data.
 * The JSON is untrusted: every entry's dtype, shape, byte count and offsets are checked
 * against each other and the file size before a tensor is read.
 */
import { writeFile } from 'node:fs/promises';
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

export function parseSafetensorsHeader(json: Uint8Array, dataStart: number, fileSize: number, file: string): Map<string, SafetensorsEntry> {
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
    if (name === '__metadata__') continue;
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
      return new SafetensorsFile(f, parseSafetensorsHeader(json, 8 + len, f.size, path));
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

  async close(): Promise<void> {
    await this.f.close();
  }
}

const WRITE_DTYPE: Record<DType, string> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

/** Writes tensors to a safetensors file (header padded to 8 bytes, as the reference writer does). */
export async function writeSafetensors(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): Promise<void> {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name]!;
    header[name] = { dtype: WRITE_DTYPE[t.dtype], shape: [...t.shape], data_offsets: [off, off + t.bytes] };
    off += t.bytes;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const jsonBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + jsonBytes.length + off);
  out.writeBigUInt64LE(BigInt(jsonBytes.length), 0);
  jsonBytes.copy(out, 8);
  let o = 8 + jsonBytes.length;
  for (const name of names) {
    const t = tensors[name]!;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.bytes), o);
    o += t.bytes;
  }
  await writeFile(path, out);
}
