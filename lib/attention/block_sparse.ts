/**
 * Block-sparse causal prefill, FlashInfer-style: `planBlockSparse` turns a pattern into the BSR
 * block mask once per shape; `runBlockSparse` runs it as many times as needed (every layer, every
 * request of that length). Patterns: dense causal, LServe / streaming-head style sink + local
 * blocks, or a user-given block mask. The diagonal block of every query block is always kept so
 * each query sees at least itself.
 */
import { SparsennError } from '../errors';
import type { BlockMask, KvCacheView } from './contract';
import { attentionPrefill, attentionPrefillAsync, type AttentionKernelOptions } from './ops';

export type BlockPattern =
  | { kind: 'causal' }
  /** Sink blocks at the start plus the `localBlocks` key blocks ending at the diagonal. */
  | { kind: 'local+sink'; sinkBlocks: number; localBlocks: number }
  /** keep(head, queryBlock, keyBlock); head is 0 unless perHead. */
  | { kind: 'mask'; keep: (head: number, qBlock: number, kBlock: number) => boolean; perHead?: boolean };

export interface BlockSparsePlanOptions {
  /** New query tokens. */
  T: number;
  /** Position of the first new token (tokens before it are already cached). Default 0. */
  pos0?: number;
  heads: number;
  /** Tokens per block, for queries and keys (default 64). */
  blockSize?: number;
  pattern: BlockPattern;
}

export interface BlockSparsePlan {
  readonly T: number;
  readonly pos0: number;
  readonly heads: number;
  readonly mask: BlockMask;
  /** Fraction of the causal key blocks the plan visits (1 = dense). */
  readonly density: number;
}

export function planBlockSparse(o: BlockSparsePlanOptions): BlockSparsePlan {
  const T = o.T;
  const pos0 = o.pos0 ?? 0;
  const bs = o.blockSize ?? 64;
  if (![T, pos0, bs, o.heads].every((x) => Number.isSafeInteger(x) && x >= 0) || bs < 1 || o.heads < 1)
    throw new SparsennError('ERR_ARG', 'planBlockSparse: T, pos0, heads and blockSize must be non-negative integers (heads, blockSize >= 1)');
  const p = o.pattern;
  const qBlocks = Math.ceil(T / bs);
  const maskHeads = p.kind === 'mask' && p.perHead ? o.heads : 1;
  const indptr = new Uint32Array(maskHeads * qBlocks + 1);
  const blocks: number[] = [];
  let causal = 0;
  for (let m = 0; m < maskHeads; m++)
    for (let qb = 0; qb < qBlocks; qb++) {
      const diag = Math.floor((pos0 + Math.min(T, (qb + 1) * bs) - 1) / bs); // last key block any row sees
      const firstDiag = Math.floor((pos0 + qb * bs) / bs);
      causal += diag + 1;
      for (let kb = 0; kb <= diag; kb++) {
        let keep: boolean;
        if (kb >= firstDiag) keep = true; // blocks on the diagonal
        else if (p.kind === 'causal') keep = true;
        else if (p.kind === 'local+sink') keep = kb < p.sinkBlocks || kb > firstDiag - p.localBlocks;
        else keep = p.keep(m, qb, kb);
        if (keep) blocks.push(kb);
      }
      indptr[m * qBlocks + qb + 1] = blocks.length;
    }
  return {
    T,
    pos0,
    heads: o.heads,
    mask: { indptr, kvBlocks: Uint32Array.from(blocks), maskHeads, blockQ: bs, blockK: bs },
    density: causal === 0 ? 1 : blocks.length / causal,
  };
}

export interface BlockSparseRun {
  /** [T, heads · headDim] queries (token-major). */
  q: Float32Array;
  /** The cache, already holding tokens [0, pos0 + T). */
  kv: KvCacheView;
  /** Softmax scale (default 1/√headDim). */
  scale?: number;
  /** Output [T, heads · headDim]; allocated when omitted. */
  out?: Float32Array;
}

function args(plan: BlockSparsePlan, r: BlockSparseRun) {
  const out = r.out ?? new Float32Array(plan.T * plan.heads * r.kv.headDim);
  return { q: r.q, T: plan.T, heads: plan.heads, kv: r.kv, mask: plan.mask, pos0: plan.pos0, scale: r.scale ?? 1 / Math.sqrt(r.kv.headDim), out };
}

export function runBlockSparse(plan: BlockSparsePlan, r: BlockSparseRun, opts?: AttentionKernelOptions): Float32Array {
  const a = args(plan, r);
  attentionPrefill(a, opts);
  return a.out;
}

export async function runBlockSparseAsync(plan: BlockSparsePlan, r: BlockSparseRun, opts?: AttentionKernelOptions): Promise<Float32Array> {
  const a = args(plan, r);
  await attentionPrefillAsync(a, opts);
  return a.out;
}
