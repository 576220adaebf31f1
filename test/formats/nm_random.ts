/** Random weights that follow an N:M pattern, for the N:M tests. */
import { Tensor } from '../../lib/index';
import { randInt, rng } from '../helpers';

/** A random [N, K] weight with n nonzeros in most groups of m (a tenth keep fewer, possibly none). */
export function randomNmDense(N: number, K: number, n: number, m: number, seed: number): Tensor {
  const r = rng(seed);
  const data = new Float32Array(N * K);
  for (let row = 0; row < N; row++)
    for (let k0 = 0; k0 < K; k0 += m) {
      const width = Math.min(m, K - k0);
      const keep = Math.min(width, r() < 0.1 ? randInt(r, 0, n) : n);
      const cols = Array.from({ length: width }, (_, i) => i);
      for (let j = 0; j < keep; j++) {
        const pick = randInt(r, j, width - 1);
        [cols[j], cols[pick]] = [cols[pick]!, cols[j]!];
        data[row * K + k0 + cols[j]!] = (r() * 2 - 1) || 0.5;
      }
    }
  return new Tensor(data, [N, K]);
}
