/** What every architecture (llama, gpt2) offers the decoding loop, evaluation and pruners. */
import type { BackendChoice } from '../backend/types';
import type { DType } from '../dtype';
import type { KvCache } from '../generate/kv_cache';
import type { AttentionPolicy } from '../nn/attention';
import type { Linear } from '../nn/linear';

export interface ModelConfig {
  architecture: 'llama' | 'gpt2';
  /** Where the weights came from: 'llama2c', 'safetensors' or 'synthetic' (random weights). */
  source: 'llama2c' | 'safetensors' | 'synthetic';
  dim: number;
  hiddenDim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  /** Context length: positions beyond it are refused. */
  maxSeqLen: number;
  normEps: number;
  /** RoPE (llama only). */
  ropeTheta: number;
  ropeLayout: 'interleaved' | 'half' | 'none';
  tiedEmbeddings: boolean;
  bosId: number | null;
  eosId: number | null;
  /** Storage dtype of the linear weights. */
  weightDType: DType;
}

/** One sequence of a (possibly batched) forward pass: new tokens appended after cache.length. */
export interface Segment {
  ids: readonly number[];
  cache: KvCache;
}

export interface ForwardOptions {
  backend?: BackendChoice;
  attention?: AttentionPolicy;
  /** Logits for every new position (true) or only the last of each segment (false). */
  allLogits: boolean;
  signal?: AbortSignal;
  /** When given, milliseconds spent per stage are added to it (for profiling; see bench/decode.ts). */
  timings?: StageTimings;
}

/** Wall time per stage of a forward pass, accumulated over calls. */
export interface StageTimings {
  embed: number;
  norm: number;
  /** q, k, v projections. */
  qkv: number;
  /** RoPE and KV-cache writes. */
  rope: number;
  attention: number;
  /** Attention output projection. */
  out: number;
  /** Gate, up, down projections and the activation. */
  mlp: number;
  head: number;
}

export function emptyTimings(): StageTimings {
  return { embed: 0, norm: 0, qkv: 0, rope: 0, attention: 0, out: 0, mlp: 0, head: 0 };
}

export interface Network {
  readonly config: ModelConfig;
  newCache(initialCapacity?: number): KvCache;
  /**
   * Runs the new tokens of every segment; the rows of all segments are stacked so each
   * linear layer is one matmul. Returns logits rows [rows, vocab] (see allLogits) and
   * advances every segment's cache.
   */
  forward(segments: readonly Segment[], opts: ForwardOptions): Promise<Float32Array>;
  /** Every linear layer by its Hugging Face-style name (what a pruner rewrites). */
  linears(): Map<string, Linear>;
}
