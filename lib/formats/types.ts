/**
 * What every sparse weight format (CSR, N:M, BSR, bitmap) has in common, so that matmul,
 * nn.Linear and the serialiser can take any of them. Each format lives in its own
 * file (csr.ts, nm.ts, bsr.ts) and implements this interface.
 */
import type { DType } from '../dtype';
import type { Tensor } from '../tensor';

export type SparseFormat = 'csr' | 'nm' | 'bsr' | 'bitmap';

/** The stored values of a sparse weight: f32, or raw bf16 / f16 bits. */
export type SparseValues = Float32Array | Uint16Array;

export interface SparseMatrix {
  readonly format: SparseFormat;
  /** [N, K] = [out_features, in_features], the shape of the dense weight it stands for. */
  readonly shape: readonly [number, number];
  /** Element type of the stored values. */
  readonly dtype: DType;
  /** Real storage size in bytes: values + indices + pointers. */
  readonly bytes: number;
  /** Number of stored values (for BSR this counts padded block elements, which are stored too). */
  readonly nnz: number;
  /** The dense [N, K] tensor, in this matrix's dtype. */
  toDense(): Tensor;
  /** Checks every index and pointer; throws SparsennError ERR_FORMAT when the buffers are inconsistent. */
  validate(): void;
  /** A self-describing byte buffer (see serialize.ts); each format has a static deserialize(). */
  serialize(): Uint8Array;
}

const FORMATS: readonly string[] = ['csr', 'nm', 'bsr', 'bitmap'];

export function isSparseMatrix(x: unknown): x is SparseMatrix {
  if (typeof x !== 'object' || x === null) return false;
  const m = x as { format?: unknown; shape?: unknown; toDense?: unknown };
  return (
    typeof m.format === 'string' &&
    FORMATS.includes(m.format) &&
    Array.isArray(m.shape) &&
    m.shape.length === 2 &&
    typeof m.toDense === 'function'
  );
}
