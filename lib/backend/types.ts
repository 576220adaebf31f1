/**
 * The ONE interface every backend implements (js, cpu, cuda). Public ops in
 * lib/ops/ validate arguments, allocate outputs and then call a backend; a
 * backend may assume its inputs are already checked.
 */
import type { Tensor } from '../tensor';

export type BackendName = 'js' | 'cpu' | 'cuda';
export type BackendChoice = 'auto' | BackendName;

export interface Backend {
  readonly name: BackendName;
  /** y[M,N] = x[M,K] · wᵀ, w a dense [N,K] tensor of f32 / bf16 / f16. */
  matmul(x: Tensor, w: Tensor, y: Float32Array): void;
  /** The same, off the main thread (or in slices that yield to the event loop). */
  matmulAsync(x: Tensor, w: Tensor, y: Float32Array): Promise<void>;
}
