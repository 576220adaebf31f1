/**
 * The whole native surface in one place, typed (as node-llama-cpp's AddonTypes.ts).
 * Nothing outside lib/backend/ touches the addon.
 */
export type DTypeCode = 0 | 1 | 2;

export interface NativeInfo {
  simd: 'avx512' | 'avx2' | 'neon' | 'scalar';
  threads: number;
}

export interface NativeBinding {
  info(): NativeInfo;
  setThreads(n: number): number;
  /** Returns 0 or the failing pivot + 1. The async form reports failure as u[0] = NaN, u[1] = pivot + 1. */
  choleskyInverseUpper(h: Float64Array, k: number, u: Float64Array): number;
  choleskyInverseUpperAsync(h: Float64Array, k: number, u: Float64Array): Promise<void>;
  sparsegptSweep(...a: SparsegptSweepArgs): void;
  sparsegptSweepAsync(...a: SparsegptSweepArgs): Promise<void>;
  matmulDense(x: Float32Array, M: number, K: number, w: Float32Array | Uint16Array, wDtype: DTypeCode, N: number, y: Float32Array): void;
  matmulDenseAsync(
    x: Float32Array,
    M: number,
    K: number,
    w: Float32Array | Uint16Array,
    wDtype: DTypeCode,
    N: number,
    y: Float32Array,
  ): Promise<void>;
  /** Bench only: sums buf with at most `threads` pool workers (a plain streaming read, the bandwidth ceiling). */
  benchStreamRead(buf: Float32Array, threads: number): number;
  /** Bench only: sums the same scattered rows of a and b (rows[i] at byte rows[i]·rowStride, rowBytes long), prefetching ahead. */
  benchGatherRead(a: ArrayBufferView, b: ArrayBufferView, rowBytes: number, rowStride: number, rows: Uint32Array, threads: number): number;
  /** Asks for 2 MiB pages under a large typed array (a KV cache); returns the bytes advised (0 where unsupported). */
  adviseHugePages(view: ArrayBufferView): number;
  /** The address of the view's first byte modulo 2 MiB (for placing arrays on cache-line or huge-page boundaries). */
  addressAlignment(view: ArrayBufferView): number;
  /** Y[M,N] = X[M,K] · Wᵀ, W [N,K] in CSR. Checks every pointer; a column index >= K throws ERR_FORMAT. */
  matmulCsr(
    x: Float32Array,
    M: number,
    K: number,
    rowPtr: Uint32Array,
    colIdx: Uint16Array | Uint32Array,
    values: Float32Array | Uint16Array,
    wDtype: DTypeCode,
    N: number,
    y: Float32Array,
  ): void;
  matmulCsrAsync(
    x: Float32Array,
    M: number,
    K: number,
    rowPtr: Uint32Array,
    colIdx: Uint16Array | Uint32Array,
    values: Float32Array | Uint16Array,
    wDtype: DTypeCode,
    N: number,
    y: Float32Array,
  ): Promise<void>;
  /**
   * Y[M,N] = X[M,K] · Wᵀ, W [N,K] in the bitmap format: masks [N·ceil(K/16)] (bit i of a group's
   * mask keeps column 16g + i), rowPtr [N+1] value offsets, packed values. Row offsets are checked
   * here; each row's popcounts and tail bits are checked by the kernel (a mismatch throws ERR_FORMAT).
   */
  matmulBitmap(...a: BitmapMatmulArgs): void;
  matmulBitmapAsync(...a: BitmapMatmulArgs): Promise<void>;
  /** Y[M,N] = X[M,K] · Wᵀ, W [N,K] block-sparse with [br, bc] blocks (zero-padded at the edges). */
  matmulBsr(
    x: Float32Array,
    M: number,
    K: number,
    blockRowPtr: Uint32Array,
    blockCol: Uint16Array | Uint32Array,
    values: Float32Array | Uint16Array,
    wDtype: DTypeCode,
    N: number,
    br: number,
    bc: number,
    y: Float32Array,
  ): void;
  matmulBsrAsync(
    x: Float32Array,
    M: number,
    K: number,
    blockRowPtr: Uint32Array,
    blockCol: Uint16Array | Uint32Array,
    values: Float32Array | Uint16Array,
    wDtype: DTypeCode,
    N: number,
    br: number,
    bc: number,
    y: Float32Array,
  ): Promise<void>;
  /** Decode attention; argument order as native/binding/attention_binding.cc. selKind: 0 all, 1 ranges, 2 indices, 3 pages. */
  attentionDecode(...args: AttentionDecodeArgs): void;
  attentionDecodeAsync(...args: AttentionDecodeArgs): Promise<void>;
  attentionPrefill(...args: AttentionPrefillArgs): void;
  attentionPrefillAsync(...args: AttentionPrefillArgs): Promise<void>;
  /** attentionGroupScores(q, heads, dim, rows, rows, rowsDtype, kvHeads, n, headStride, rowStride, out) */
  attentionGroupScores(
    q: Float32Array,
    heads: number,
    dim: number,
    rows: Float32Array | Uint16Array,
    rowsAgain: Float32Array | Uint16Array,
    rowsDtype: DTypeCode,
    kvHeads: number,
    n: number,
    headStride: number,
    rowStride: number,
    out: Float32Array,
  ): void;
  /** attentionTopK(scores, rows, n, k, out) */
  attentionTopK(scores: Float32Array, rows: number, n: number, k: number, out: Uint32Array): void;
  /** Quest page bounds (lib/attention/selection_contract.ts); order as native/binding/attention_select_binding.cc. */
  attentionQuestPageBounds(
    k: Float32Array | Uint16Array,
    kvDtype: DTypeCode,
    kvHeads: number,
    length: number,
    headDim: number,
    headStride: number,
    tokenStride: number,
    pageSize: number,
    bounds: Int8Array,
    scales: Float32Array,
    capacity: number,
    pageBegin: number,
    pageEnd: number,
  ): void;
  attentionQuestSelect(
    q: Float32Array,
    heads: number,
    headDim: number,
    bounds: Int8Array,
    scales: Float32Array,
    kvHeads: number,
    capacity: number,
    current: number,
    keep: number,
    scores: Float32Array | null,
    items: Uint32Array,
  ): void;
  /** Double Sparsity label cache rows [begin, end). */
  attentionLabelUpdate(
    k: Float32Array | Uint16Array,
    kvDtype: DTypeCode,
    kvHeads: number,
    length: number,
    headDim: number,
    headStride: number,
    tokenStride: number,
    channels: Uint32Array,
    labels: Int8Array,
    scales: Float32Array,
    width: number,
    capacity: number,
    begin: number,
    end: number,
    bits: 4 | 8,
  ): void;
  attentionLabelSelect(
    q: Float32Array,
    heads: number,
    headDim: number,
    channels: Uint32Array,
    labels: Int8Array,
    scales: Float32Array,
    kvHeads: number,
    width: number,
    capacity: number,
    n: number,
    k: number,
    scores: Float32Array | null,
    items: Uint32Array,
    bits: 4 | 8,
  ): void;
  /** attentionQuestSelect (no scores) and then decode attention over its pages, in one call (sparsenn/attention_select.h). */
  attentionQuestSelectDecode(
    q: Float32Array,
    heads: number,
    headDim: number,
    bounds: Int8Array,
    scales: Float32Array,
    kvHeads: number,
    capacity: number,
    current: number,
    keep: number,
    items: Uint32Array,
    pageSize: number,
    kvK: Float32Array | Uint16Array,
    kvV: Float32Array | Uint16Array,
    kvDtype: number,
    length: number,
    headStride: number,
    tokenStride: number,
    scale: number,
    out: Float32Array,
  ): void;
  /** attentionLabelSelect (no scores) and then decode attention over its choice, in one call (sparsenn/attention_select.h). */
  attentionLabelSelectDecode(
    q: Float32Array,
    heads: number,
    headDim: number,
    channels: Uint32Array,
    labels: Int8Array,
    scales: Float32Array,
    kvHeads: number,
    width: number,
    capacity: number,
    n: number,
    k: number,
    items: Uint32Array,
    bits: 4 | 8,
    kvK: Float32Array | Uint16Array,
    kvV: Float32Array | Uint16Array,
    kvDtype: number,
    length: number,
    headStride: number,
    tokenStride: number,
    scale: number,
    out: Float32Array,
  ): void;
  /** Y[M,N] = X[M,K] · Wᵀ, W [N,K] N:M sparse (lib/formats/nm.ts layout); checks n, m and every length. */
  matmulNm(
    x: Float32Array,
    M: number,
    K: number,
    values: Float32Array | Uint16Array,
    dtype: DTypeCode,
    meta: Uint32Array,
    N: number,
    n: number,
    m: number,
    y: Float32Array,
  ): void;
  matmulNmAsync(
    x: Float32Array,
    M: number,
    K: number,
    values: Float32Array | Uint16Array,
    dtype: DTypeCode,
    meta: Uint32Array,
    N: number,
    n: number,
    m: number,
    y: Float32Array,
  ): Promise<void>;
  /** Y[M,N] = X[M,K] · W with W given transposed, wt [K,N]; skips zero inputs. */
  matmulInputSparse(x: Float32Array, M: number, K: number, wt: Float32Array | Uint16Array, wtDtype: DTypeCode, N: number, y: Float32Array): void;
  matmulInputSparseAsync(
    x: Float32Array,
    M: number,
    K: number,
    wt: Float32Array | Uint16Array,
    wtDtype: DTypeCode,
    N: number,
    y: Float32Array,
  ): Promise<void>;
}

/**
 * Every function of NativeBinding, checked at load: an addon that lacks one (a stale or foreign build)
 * is refused as a whole, so the library falls back to js instead of failing later with "not a function".
 */
export const NATIVE_FUNCTIONS = [
  'info',
  'setThreads',
  'choleskyInverseUpper',
  'choleskyInverseUpperAsync',
  'sparsegptSweep',
  'sparsegptSweepAsync',
  'matmulDense',
  'matmulDenseAsync',
  'benchStreamRead',
  'benchGatherRead',
  'adviseHugePages',
  'addressAlignment',
  'matmulCsr',
  'matmulCsrAsync',
  'matmulBsr',
  'matmulBsrAsync',
  'attentionDecode',
  'attentionDecodeAsync',
  'attentionPrefill',
  'attentionPrefillAsync',
  'attentionGroupScores',
  'attentionTopK',
  'attentionQuestPageBounds',
  'attentionQuestSelect',
  'attentionQuestSelectDecode',
  'attentionLabelUpdate',
  'attentionLabelSelect',
  'attentionLabelSelectDecode',
  'matmulNm',
  'matmulNmAsync',
  'matmulInputSparse',
  'matmulInputSparseAsync',
  'matmulBitmap',
  'matmulBitmapAsync',
] as const satisfies readonly (keyof NativeBinding)[];

// Compile-time check that NATIVE_FUNCTIONS names every member of NativeBinding.
type UncheckedNativeFunction = Exclude<keyof NativeBinding, (typeof NATIVE_FUNCTIONS)[number]>;
export const NATIVE_FUNCTIONS_COMPLETE: [UncheckedNativeFunction] extends [never] ? true : UncheckedNativeFunction = true;

/** matmulBitmap(x, M, K, masks, rowPtr, values, wDtype, N, y) */
export type BitmapMatmulArgs = [
  x: Float32Array,
  M: number,
  K: number,
  masks: Uint16Array,
  rowPtr: Uint32Array,
  values: Float32Array | Uint16Array,
  wDtype: DTypeCode,
  N: number,
  y: Float32Array,
];

/** attentionDecode(q, heads, headDim, k, v, kvDtype, kvHeads, length, headStride, tokenStride, selKind, offsets, items, pageSize, scale, out) */
export type AttentionDecodeArgs = [
  q: Float32Array,
  heads: number,
  headDim: number,
  k: Float32Array | Uint16Array,
  v: Float32Array | Uint16Array,
  kvDtype: DTypeCode,
  kvHeads: number,
  length: number,
  headStride: number,
  tokenStride: number,
  selKind: 0 | 1 | 2 | 3,
  offsets: Uint32Array,
  items: Uint32Array,
  pageSize: number,
  scale: number,
  out: Float32Array,
];

/** attentionPrefill(q, T, heads, headDim, k, v, kvDtype, kvHeads, length, headStride, tokenStride, indptr, kvBlocks, maskHeads, blockQ, blockK, pos0, scale, out) */
export type AttentionPrefillArgs = [
  q: Float32Array,
  T: number,
  heads: number,
  headDim: number,
  k: Float32Array | Uint16Array,
  v: Float32Array | Uint16Array,
  kvDtype: DTypeCode,
  kvHeads: number,
  length: number,
  headStride: number,
  tokenStride: number,
  indptr: Uint32Array,
  kvBlocks: Uint32Array,
  maskHeads: number,
  blockQ: number,
  blockK: number,
  pos0: number,
  scale: number,
  out: Float32Array,
];

/** sparsegptSweep(w, rows, cols, u, mask, n, m, block, counts): m = 0 means unstructured with per-block prune counts. */
export type SparsegptSweepArgs = [
  w: Float32Array,
  rows: number,
  cols: number,
  u: Float32Array,
  mask: Uint8Array,
  n: number,
  m: number,
  block: number,
  counts: Uint32Array,
];

/** A weight resident in GPU memory (native/cuda/binding/cuda_addon.cc); dispose() frees it now. */
export interface CudaWeightHandle {
  readonly bytes: number;
  readonly kind: 'dense16' | 'sparse24' | 'csr' | 'densef32' | 'bsr';
  readonly rows: number;
  readonly cols: number;
  dispose(): void;
}

export interface CudaDeviceInfo {
  name: string;
  major: number;
  minor: number;
  totalMemory: number;
  smCount: number;
  driverVersion: number;
  runtimeVersion: number;
  count: number;
}

/** The optional CUDA addon (sparsenn_cuda.node), loaded only after a child process self-test passed. */
export interface CudaBinding {
  deviceInfo(): CudaDeviceInfo;
  /** '' when every kernel matched the CPU on a tiny random case, else what failed. */
  selfTest(): string;
  uploadDense(w: Float32Array | Uint16Array, dtype: DTypeCode, rows: number, cols: number): CudaWeightHandle;
  /** N:M kept values (f16/bf16 bits) with one position byte each; must fit 2:4 (else ERR_PATTERN). */
  uploadNm(values: Uint16Array, positions: Uint8Array, n: number, m: number, dtype: DTypeCode, rows: number, cols: number): CudaWeightHandle;
  uploadCsr(
    rowPtr: Uint32Array,
    colIdx: Uint16Array | Uint32Array,
    values: Float32Array | Uint16Array,
    dtype: DTypeCode,
    rows: number,
    cols: number,
  ): CudaWeightHandle;
  /** Block-sparse W: [blockRows, blockCols] blocks (blockRows · blockCols <= 4096), block row pointers and columns as in BsrMatrix. */
  uploadBsr(
    blockRowPtr: Uint32Array,
    blockCol: Uint16Array | Uint32Array,
    values: Float32Array | Uint16Array,
    dtype: DTypeCode,
    rows: number,
    cols: number,
    blockRows: number,
    blockCols: number,
  ): CudaWeightHandle;
  /** y[M, rows] = x[M, cols] · Wᵀ. */
  matmul(w: CudaWeightHandle, x: Float32Array, M: number, y: Float32Array): void;
  matmulAsync(w: CudaWeightHandle, x: Float32Array, M: number, y: Float32Array): Promise<void>;
}
