/**
 * The onnxruntime-node dense baseline: what a Node user would pick instead of us.
 * One InferenceSession per shape holding the weight as an initializer; timing covers
 * session.run (input wrapping and output allocation included, as a user pays them).
 * onnxruntime-node is a dev dependency: when it is missing or fails to load, suites
 * skip this baseline and say why.
 */
import type * as OrtModule from 'onnxruntime-node';
import { linearModel } from './onnx_model';

type Ort = typeof OrtModule;

let ortLoaded: { ort: Ort } | { error: string } | undefined;

export function loadOrt(): { ort: Ort } | { error: string } {
  if (!ortLoaded) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      ortLoaded = { ort: require('onnxruntime-node') as Ort };
    } catch (e) {
      ortLoaded = { error: `onnxruntime-node could not be loaded (${(e as Error).message.split('\n')[0]}); ORT baseline skipped` };
    }
  }
  return ortLoaded;
}

export interface OrtLinear {
  /** 'ort MatMul' or 'ort Gemm(transB)'. */
  label: string;
  /** Y = X · Wᵀ for the X given at creation. */
  run(): Promise<Float32Array>;
  release(): Promise<void>;
}

/** W^T as [K, N] row-major (what MatMul's B wants). */
export function transpose(w: Float32Array, N: number, K: number): Float32Array {
  const t = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    const row = n * K;
    for (let k = 0; k < K; k++) t[k * N + n] = w[row + k]!;
  }
  return t;
}

/**
 * A session computing Y[M,N] = X[M,K] · Wᵀ with w f32 [N,K], on `threads` intra-op threads.
 * Spinning is off so ORT's idle workers do not steal cores from the kernel timed next to it.
 */
export async function createOrtLinear(
  ort: Ort,
  op: 'MatMul' | 'Gemm',
  x: Float32Array,
  w: Float32Array,
  M: number,
  N: number,
  K: number,
  threads: number,
): Promise<OrtLinear> {
  const weight = op === 'MatMul' ? transpose(w, N, K) : w;
  const model = linearModel({ M, K, N, op, weight });
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  });
  const input = new ort.Tensor('float32', x, [M, K]);
  return {
    label: op === 'MatMul' ? 'ort MatMul' : 'ort Gemm(transB)',
    async run() {
      const out = await session.run({ X: input });
      return out.Y!.data as Float32Array;
    },
    release: () => session.release(),
  };
}
