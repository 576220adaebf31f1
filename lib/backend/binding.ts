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
}
