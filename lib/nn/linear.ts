/**
 * Linear: y = x · Wᵀ (+ b), W stored [out_features, in_features]. The weight may be
 * swapped at any time (setWeight) so a pruner can replace a dense weight by a sparse one;
 * every multiply goes through the public matmul / matmulAsync, which pick the backend.
 */
import { adviseStreamedStorage } from '../backend/huge_pages';
import type { BackendChoice } from '../backend/types';
import { SparsennError } from '../errors';
import { matmul, matmulAsync } from '../ops/matmul';
import { Tensor } from '../tensor';

/** Whatever matmul accepts as a weight: a dense Tensor or any sparse matrix format. */
export type LinearWeight = Parameters<typeof matmul>[1];

export interface LinearCallOptions {
  backend?: BackendChoice;
}

/** Called with the input of every forward of a Linear (calibration records activations this way). */
export type LinearInputObserver = (x: Tensor) => void;

export class Linear {
  private w: LinearWeight;
  private observers: LinearInputObserver[] = [];
  readonly bias: Float32Array | null;
  readonly outFeatures: number;
  readonly inFeatures: number;

  constructor(weight: LinearWeight, bias: Float32Array | null = null) {
    const [n, k] = Linear.shapeOf(weight);
    if (bias && bias.length !== n)
      throw new SparsennError('ERR_SHAPE', `Linear: bias has ${bias.length} elements, weight has ${n} outputs`);
    this.w = weight;
    Linear.adviseDense(weight);
    this.bias = bias;
    this.outFeatures = n;
    this.inFeatures = k;
  }

  private static shapeOf(w: LinearWeight): [number, number] {
    const s = (w as { shape?: readonly number[] }).shape;
    if (!s || s.length !== 2) throw new SparsennError('ERR_SHAPE', 'Linear: weight must be a 2-D [out, in] matrix');
    return [s[0]!, s[1]!];
  }

  /** Dense weights get the same page policy the sparse formats apply to themselves. */
  private static adviseDense(w: LinearWeight): void {
    if (w instanceof Tensor) adviseStreamedStorage(w.data);
  }

  get weight(): LinearWeight {
    return this.w;
  }

  /** Replaces the weight (for example by a pruned, sparse version); the shape must not change. */
  setWeight(w: LinearWeight): void {
    const [n, k] = Linear.shapeOf(w);
    if (n !== this.outFeatures || k !== this.inFeatures)
      throw new SparsennError(
        'ERR_SHAPE',
        `Linear.setWeight: expected [${this.outFeatures}, ${this.inFeatures}], got [${n}, ${k}]`,
      );
    this.w = w;
    Linear.adviseDense(w);
  }

  /**
   * Calls `fn(x)` with the input of every forward / forwardAsync until the returned function is
   * called. An observer may throw to stop the forward pass (the error reaches the caller).
   */
  observeInput(fn: LinearInputObserver): () => void {
    this.observers = [...this.observers, fn];
    return () => {
      this.observers = this.observers.filter((o) => o !== fn);
    };
  }

  forward(x: Tensor, opts?: LinearCallOptions): Tensor {
    for (const o of this.observers) o(x);
    return this.addBias(matmul(x, this.w, opts));
  }

  forwardAsync(x: Tensor, opts?: LinearCallOptions): Promise<Tensor> {
    // Observers run before the multiply, as in forward; a throw becomes the promise's rejection.
    try {
      for (const o of this.observers) o(x);
    } catch (e) {
      return Promise.reject(e);
    }
    return matmulAsync(x, this.w, opts).then((y) => this.addBias(y));
  }

  private addBias(y: Tensor): Tensor {
    const b = this.bias;
    if (b) {
      const d = y.data as Float32Array;
      const n = this.outFeatures;
      for (let i = 0; i < d.length; i += n) for (let j = 0; j < n; j++) d[i + j]! += b[j]!;
    }
    return y;
  }
}
