/**
 * llama2.c checkpoints (legacy format, as written by llama2.c's export.py --version 0):
 * 7 int32 header fields, then f32 arrays in a fixed order (see shared/models/README.md).
 * The header is untrusted: every field is range-checked and the exact file size it
 * implies is compared with the real size before any tensor is allocated.
 */
import { SparsennError } from '../errors';
import { Linear } from '../nn/linear';
import { Tensor } from '../tensor';
import type { DType } from '../dtype';
import { LlamaNetwork, type LlamaLayer } from './llama';
import { ModelFile, modelFileError } from './model_file';
import type { ModelConfig } from './types';

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  /** Absolute value of the stored vocab size. */
  vocabSize: number;
  /** The stored vocab size was negative: an untied classifier follows the RoPE tables. */
  separateClassifier: boolean;
  seqLen: number;
}

const HEADER_BYTES = 28;
// Far above any llama2.c model, far below sizes that could exhaust memory by arithmetic alone.
const LIMITS = { dim: 1 << 16, hiddenDim: 1 << 18, layers: 1024, heads: 1024, vocabSize: 1 << 22, seqLen: 1 << 20 };

/** The tensors of a llama2.c file in order, with their element counts. */
export function llama2cLayout(h: Llama2cHeader): { name: string; count: number }[] {
  const hs = h.dim / h.heads;
  const kvDim = h.kvHeads * hs;
  const L = h.layers;
  const t = [
    { name: 'token_embedding', count: h.vocabSize * h.dim },
    { name: 'rms_att', count: L * h.dim },
    { name: 'wq', count: L * h.dim * h.dim },
    { name: 'wk', count: L * kvDim * h.dim },
    { name: 'wv', count: L * kvDim * h.dim },
    { name: 'wo', count: L * h.dim * h.dim },
    { name: 'rms_ffn', count: L * h.dim },
    { name: 'w1', count: L * h.hiddenDim * h.dim },
    { name: 'w2', count: L * h.dim * h.hiddenDim },
    { name: 'w3', count: L * h.hiddenDim * h.dim },
    { name: 'rms_final', count: h.dim },
    { name: 'freq_cis_real', count: (h.seqLen * hs) / 2 },
    { name: 'freq_cis_imag', count: (h.seqLen * hs) / 2 },
  ];
  if (h.separateClassifier) t.push({ name: 'classifier', count: h.vocabSize * h.dim });
  return t;
}

export function parseLlama2cHeader(bytes: Uint8Array, file: string): Llama2cHeader {
  if (bytes.length < HEADER_BYTES) throw modelFileError(file, `header needs ${HEADER_BYTES} bytes, the file has ${bytes.length}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const f = (i: number) => dv.getInt32(i * 4, true);
  const raw = { dim: f(0), hiddenDim: f(1), layers: f(2), heads: f(3), kvHeads: f(4), vocabSize: f(5), seqLen: f(6) };
  const h: Llama2cHeader = { ...raw, vocabSize: Math.abs(raw.vocabSize), separateClassifier: raw.vocabSize < 0 };
  const check = (ok: boolean, what: string) => {
    if (!ok) throw modelFileError(file, `header: ${what} (header: ${JSON.stringify(raw)}); is this a llama2.c checkpoint?`);
  };
  for (const k of ['dim', 'hiddenDim', 'layers', 'heads', 'seqLen', 'vocabSize'] as const)
    check(h[k] > 0 && h[k] <= LIMITS[k], `${k} must be in [1, ${LIMITS[k]}], got ${raw[k]}`);
  check(h.kvHeads > 0 && h.kvHeads <= h.heads, `n_kv_heads must be in [1, n_heads=${h.heads}], got ${h.kvHeads}`);
  check(h.dim % h.heads === 0, `dim ${h.dim} must be a multiple of n_heads ${h.heads}`);
  check(h.heads % h.kvHeads === 0, `n_heads ${h.heads} must be a multiple of n_kv_heads ${h.kvHeads}`);
  check((h.dim / h.heads) % 2 === 0, `head size ${h.dim / h.heads} must be even for RoPE`);
  return h;
}

/** Checks the file size the header implies against the real one; names the first tensor that is cut off. */
export function checkLlama2cSize(h: Llama2cHeader, fileSize: number, file: string): number[] {
  const offsets: number[] = [];
  let off = HEADER_BYTES;
  for (const t of llama2cLayout(h)) {
    offsets.push(off);
    const end = off + t.count * 4;
    if (end > fileSize)
      throw modelFileError(
        file,
        `tensor ${t.name} needs bytes [${off}, ${end}) but the file has only ${fileSize} bytes (truncated, or the header lies)`,
      );
    off = end;
  }
  if (off !== fileSize)
    throw modelFileError(file, `header implies ${off} bytes but the file has ${fileSize} (${fileSize - off} unexplained trailing bytes)`);
  return offsets;
}

/** Raw f32 arrays of a llama2.c checkpoint, one per tensor per layer (used by the loader and the converter). */
export interface Llama2cWeights {
  header: Llama2cHeader;
  embedding: Float32Array;
  classifier: Float32Array | null;
  finalNorm: Float32Array;
  layers: Record<'attnNorm' | 'wq' | 'wk' | 'wv' | 'wo' | 'ffnNorm' | 'w1' | 'w2' | 'w3', Float32Array>[];
}

export async function readLlama2c(path: string): Promise<Llama2cWeights> {
  const f = await ModelFile.open(path);
  try {
    const header = parseLlama2cHeader(await f.readBytes(0, Math.min(HEADER_BYTES, f.size), 'header'), path);
    const offsets = checkLlama2cSize(header, f.size, path);
    const layout = llama2cLayout(header);
    const at = (name: string) => {
      const i = layout.findIndex((t) => t.name === name);
      return { offset: offsets[i]!, count: layout[i]!.count };
    };
    const read = async (name: string, offset: number, count: number) => {
      const a = new Float32Array(count);
      await f.readInto(a, offset, name);
      return a;
    };
    const whole = async (name: string) => {
      const t = at(name);
      return read(name, t.offset, t.count);
    };
    const perLayer = async (name: string, l: number) => {
      const t = at(name);
      const n = t.count / header.layers;
      return read(`${name}[layer ${l}]`, t.offset + l * n * 4, n);
    };
    const layers: Llama2cWeights['layers'] = [];
    for (let l = 0; l < header.layers; l++) {
      layers.push({
        attnNorm: await perLayer('rms_att', l),
        wq: await perLayer('wq', l),
        wk: await perLayer('wk', l),
        wv: await perLayer('wv', l),
        wo: await perLayer('wo', l),
        ffnNorm: await perLayer('rms_ffn', l),
        w1: await perLayer('w1', l),
        w2: await perLayer('w2', l),
        w3: await perLayer('w3', l),
      });
    }
    return {
      header,
      embedding: await whole('token_embedding'),
      classifier: header.separateClassifier ? await whole('classifier') : null,
      finalNorm: await whole('rms_final'),
      layers,
    };
  } finally {
    await f.close();
  }
}

export function llama2cConfig(h: Llama2cHeader, weightDType: DType): ModelConfig {
  return {
    architecture: 'llama',
    source: 'llama2c',
    dim: h.dim,
    hiddenDim: h.hiddenDim,
    layers: h.layers,
    heads: h.heads,
    kvHeads: h.kvHeads,
    headDim: h.dim / h.heads,
    vocabSize: h.vocabSize,
    maxSeqLen: h.seqLen,
    normEps: 1e-5,
    ropeTheta: 10000,
    ropeLayout: 'interleaved',
    tiedEmbeddings: !h.separateClassifier,
    bosId: 1,
    eosId: 2,
    weightDType,
  };
}

export async function loadLlama2cNetwork(path: string, weightDType: DType = 'f32'): Promise<LlamaNetwork> {
  const w = await readLlama2c(path);
  const h = w.header;
  const hs = h.dim / h.heads;
  const kvDim = h.kvHeads * hs;
  const lin = (a: Float32Array, n: number, k: number) => new Linear(new Tensor(a, [n, k]).to(weightDType));
  const layers: LlamaLayer[] = w.layers.map((l) => ({
    attnNorm: l.attnNorm,
    wq: lin(l.wq, h.dim, h.dim),
    wk: lin(l.wk, kvDim, h.dim),
    wv: lin(l.wv, kvDim, h.dim),
    wo: lin(l.wo, h.dim, h.dim),
    ffnNorm: l.ffnNorm,
    w1: lin(l.w1, h.hiddenDim, h.dim),
    w2: lin(l.w2, h.dim, h.hiddenDim),
    w3: lin(l.w3, h.hiddenDim, h.dim),
  }));
  const embedding = new Tensor(w.embedding, [h.vocabSize, h.dim]).to(weightDType);
  const head = w.classifier ? lin(w.classifier, h.vocabSize, h.dim) : new Linear(embedding);
  if (layers.length !== h.layers) throw new SparsennError('ERR_MODEL_FILE', `${path}: layer count mismatch`);
  return new LlamaNetwork(llama2cConfig(h, weightDType), { embedding, layers, finalNorm: w.finalNorm, head });
}
