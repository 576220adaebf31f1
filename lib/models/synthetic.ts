/**
 * A Llama-architecture model with deterministic random weights and a byte-level tokenizer:
 * the built-in default for benchmarks, the example server and tests when no model file is given.
 * Its text is meaningless; its shapes, memory traffic and code path are those of a real model.
 */
import type { DType } from '../dtype';
import { checkDType } from '../dtype';
import { SparsennError } from '../errors';
import { ByteTokenizer } from '../generate/byte_tokenizer';
import { Linear } from '../nn/linear';
import { checkOptions } from '../options';
import { Tensor } from '../tensor';
import { LlamaNetwork, type LlamaLayer } from './llama';
import { Model } from './model';
import type { ModelConfig } from './types';

export interface SyntheticModelOptions {
  /** Model width (default 256). */
  dim?: number;
  /** MLP width (default 4 × dim × 2/3 rounded up to a multiple of 32, as in Llama). */
  hiddenDim?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  /** Context length (default 1024). */
  maxSeqLen?: number;
  /** Storage dtype of the weights (default 'f32'). */
  dtype?: DType;
  /** Seed of the weight generator (default 1). */
  seed?: number;
}

const OPTIONS = ['dim', 'hiddenDim', 'layers', 'heads', 'kvHeads', 'maxSeqLen', 'dtype', 'seed'] as const;

function positiveInt(v: unknown, name: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
    throw new SparsennError('ERR_ARG', `syntheticModel: ${name} must be an integer in [1, ${max}], got ${String(v)}`);
  return v;
}

/** The network alone (for benchmarks that swap weights in and out). */
export function syntheticNetwork(opts?: SyntheticModelOptions): LlamaNetwork {
  const o = checkOptions<SyntheticModelOptions>(opts, OPTIONS, 'syntheticModel');
  const dim = positiveInt(o.dim ?? 256, 'dim', 16384);
  const heads = positiveInt(o.heads ?? Math.max(1, Math.round(dim / 64)), 'heads', 1024);
  const kvHeads = positiveInt(o.kvHeads ?? heads, 'kvHeads', heads);
  if (dim % heads !== 0 || heads % kvHeads !== 0)
    throw new SparsennError('ERR_ARG', `syntheticModel: heads (${heads}) must divide dim (${dim}) and kvHeads (${kvHeads}) must divide heads`);
  const hidden = positiveInt(o.hiddenDim ?? Math.ceil((dim * 8) / 3 / 32) * 32, 'hiddenDim', 65536);
  const layers = positiveInt(o.layers ?? 4, 'layers', 256);
  const maxSeqLen = positiveInt(o.maxSeqLen ?? 1024, 'maxSeqLen', 1 << 20);
  const dtype = checkDType(o.dtype ?? 'f32');
  let seed = positiveInt(o.seed ?? 1, 'seed', 2 ** 31);
  const tokenizer = new ByteTokenizer();
  const vocab = tokenizer.vocabSize;
  const headDim = dim / heads;
  const kvDim = kvHeads * headDim;

  // Uniform weights scaled by 1/sqrt(fan-in) keep activations O(1) through the layers.
  const lin = (n: number, k: number) => new Linear(Tensor.random([n, k], seed++, 1 / Math.sqrt(k)).to(dtype));
  const ones = (n: number) => new Float32Array(n).fill(1);
  const layerList: LlamaLayer[] = [];
  for (let l = 0; l < layers; l++)
    layerList.push({
      attnNorm: ones(dim),
      wq: lin(dim, dim),
      wk: lin(kvDim, dim),
      wv: lin(kvDim, dim),
      wo: lin(dim, dim),
      ffnNorm: ones(dim),
      w1: lin(hidden, dim),
      w2: lin(dim, hidden),
      w3: lin(hidden, dim),
    });
  const embedding = Tensor.random([vocab, dim], seed++, 1).to(dtype);
  const config: ModelConfig = {
    architecture: 'llama',
    source: 'synthetic',
    dim,
    hiddenDim: hidden,
    layers,
    heads,
    kvHeads,
    headDim,
    vocabSize: vocab,
    maxSeqLen,
    normEps: 1e-5,
    ropeTheta: 10000,
    ropeLayout: 'half',
    tiedEmbeddings: true,
    bosId: tokenizer.bosId,
    eosId: tokenizer.eosId,
    weightDType: dtype,
  };
  return new LlamaNetwork(config, { embedding, layers: layerList, finalNorm: ones(dim), head: new Linear(embedding) });
}

/** A ready-to-generate synthetic model (random weights, byte-level tokenizer). */
export function syntheticModel(opts?: SyntheticModelOptions): Model {
  return new Model(syntheticNetwork(opts), new ByteTokenizer());
}
