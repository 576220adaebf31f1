/** The pure-TypeScript backend: the readable reference for every op, and the fallback when no native binary loads. */
import type { Backend } from '../types';
import { matmulDenseRange } from './matmul';
import { runInSlices } from './yielding';

export const jsBackend: Backend = {
  name: 'js',
  matmul(x, w, y) {
    matmulDenseRange(x, w, y, 0, w.shape[0]!);
  },
  matmulAsync(x, w, y) {
    const cost = x.shape[0]! * x.shape[1]!;
    return runInSlices(w.shape[0]!, cost, (b, e) => matmulDenseRange(x, w, y, b, e));
  },
};
