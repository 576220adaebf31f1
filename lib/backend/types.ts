/**
 * The ONE interface every backend implements (js, cpu, cuda). Public ops in
 * lib/ops/ validate arguments, allocate outputs and then call a backend; a
 * backend may assume its inputs are already checked.
 */
import type { BitmapMatrix } from '../formats/bitmap';
import type { BsrMatrix } from '../formats/bsr';
import type { CsrMatrix } from '../formats/csr';
import type { NmMatrix } from '../formats/nm';
import type { DecodeAttentionArgs, GroupScoresArgs, PrefillAttentionArgs, TopKArgs } from '../attention/contract';
import type { LabelSelectArgs, LabelSelectDecodeArgs, LabelUpdateArgs, QuestPageBoundsArgs, QuestSelectArgs, QuestSelectDecodeArgs } from '../attention/selection_contract';
import type { Tensor } from '../tensor';

export type BackendName = 'js' | 'cpu' | 'cuda';
export type BackendChoice = 'auto' | BackendName;

export interface Backend {
  readonly name: BackendName;
  /** y[M,N] = x[M,K] · wᵀ, w a dense [N,K] tensor of f32 / bf16 / f16. */
  matmul(x: Tensor, w: Tensor, y: Float32Array): void;
  /** The same, off the main thread (or in slices that yield to the event loop). */
  matmulAsync(x: Tensor, w: Tensor, y: Float32Array): Promise<void>;
  /** y[M,N] = x[M,K] · wᵀ, w an [N,K] CSR matrix (validated by its constructor). */
  matmulCsr(x: Tensor, w: CsrMatrix, y: Float32Array): void;
  matmulCsrAsync(x: Tensor, w: CsrMatrix, y: Float32Array): Promise<void>;
  /** y[M,N] = x[M,K] · wᵀ, w an [N,K] block-sparse matrix. */
  matmulBsr(x: Tensor, w: BsrMatrix, y: Float32Array): void;
  matmulBsrAsync(x: Tensor, w: BsrMatrix, y: Float32Array): Promise<void>;
  /**
   * Decode attention over a key selection (lib/attention/contract.ts); args already validated except
   * the selection's entries, which the backend checks (validate.ts checkSelectionEntries, or the
   * native binding) before it writes anything: ERR_ARG for an entry outside the cache.
   */
  attentionDecode(a: DecodeAttentionArgs): void;
  attentionDecodeAsync(a: DecodeAttentionArgs): Promise<void>;
  /** Block-sparse causal prefill attention, flash-style; args already validated. */
  attentionPrefill(a: PrefillAttentionArgs): void;
  attentionPrefillAsync(a: PrefillAttentionArgs): Promise<void>;
  /** Group-max selection scores for sparse-attention policies; args already validated. */
  attentionGroupScores(a: GroupScoresArgs): void;
  /** Row-wise top-k indices for sparse-attention policies; args already validated. */
  attentionTopK(a: TopKArgs): void;
  /** Fused Quest / Double Sparsity selection steps (lib/attention/selection_contract.ts); args already validated. */
  attentionQuestPageBounds(a: QuestPageBoundsArgs): void;
  attentionQuestSelect(a: QuestSelectArgs): void;
  attentionLabelUpdate(a: LabelUpdateArgs): void;
  attentionLabelSelect(a: LabelSelectArgs): void;
  attentionLabelSelectDecode(a: LabelSelectDecodeArgs): void;
  attentionQuestSelectDecode(a: QuestSelectDecodeArgs): void;
  /** U with H⁻¹ = UᵀU (upper, [k,k]) for a symmetric positive-definite H [k,k], all f64. Returns 0, or i + 1 when pivot i is not positive. */
  choleskyInverseUpper(h: Float64Array, k: number, u: Float64Array): number;
  choleskyInverseUpperAsync(h: Float64Array, k: number, u: Float64Array): Promise<number>;
  /** SparseGPT's OBS sweep over w [rows, cols] in place, u the upper Cholesky factor of H⁻¹ (lib/backend/js/sparsegpt.ts). */
  sparsegptSweep(w: Float32Array, rows: number, cols: number, u: Float32Array, mask: Uint8Array, plan: SparsegptPlan): void;
  sparsegptSweepAsync(w: Float32Array, rows: number, cols: number, u: Float32Array, mask: Uint8Array, plan: SparsegptPlan): Promise<void>;
  /** y[M,N] = x[M,K] · wᵀ, w an [N,K] N:M matrix (validated by its constructor). */
  matmulNm(x: Tensor, w: NmMatrix, y: Float32Array): void;
  matmulNmAsync(x: Tensor, w: NmMatrix, y: Float32Array): Promise<void>;
  /** y[M,N] = x[M,K] · W from the transposed weight wt [K,N], skipping zero inputs (sparse activations). */
  matmulInputSparse(x: Tensor, wt: Tensor, y: Float32Array): void;
  matmulInputSparseAsync(x: Tensor, wt: Tensor, y: Float32Array): Promise<void>;
  /** y[M,N] = x[M,K] · wᵀ, w an [N,K] bitmap matrix (16-bit masks + packed values; validated by its constructor). */
  matmulBitmap(x: Tensor, w: BitmapMatrix, y: Float32Array): void;
  matmulBitmapAsync(x: Tensor, w: BitmapMatrix, y: Float32Array): Promise<void>;
}

/** How sparsegptSweep chooses masks: m = 0 for unstructured (pruneCounts[b] weights pruned in block b), else N:M. */
export interface SparsegptPlan {
  n: number;
  m: number;
  /** Columns per block (a multiple of m for N:M). */
  blockSize: number;
  /** Unstructured: how many weights to prune in each block of columns. */
  pruneCounts: Uint32Array;
}
