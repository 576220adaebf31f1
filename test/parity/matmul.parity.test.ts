/**
 * Parity: every backend's dense matmul against the js reference on random data
 * over random, awkward shapes (as ggml's test-backend-ops).
 */
import { backendInfo, matmul, Tensor } from '../../lib/index';
import { AWKWARD_SIZES, randInt, relError, rng, tolerance } from '../helpers';

const native = backendInfo().backend !== 'js';
const describeNative = native ? describe : describe.skip;

describeNative('dense matmul: cpu vs js', () => {
  const r = rng(42);
  const shapes: [number, number, number][] = [];
  for (let i = 0; i < 40; i++) {
    const pick = () => (r() < 0.5 ? AWKWARD_SIZES[randInt(r, 0, AWKWARD_SIZES.length - 1)]! : randInt(r, 1, 300));
    shapes.push([randInt(r, 1, 20) === 1 ? 1 : pick(), pick(), pick()]);
  }
  shapes.push([1, 4096, 7], [1, 1, 1], [64, 1100, 33]);

  test.each(['f32', 'bf16', 'f16'] as const)('%s weights over %#', (dtype) => {
    let seed = 1;
    for (const [M, K, N] of shapes) {
      const x = Tensor.random([M, K], seed++);
      const w = Tensor.random([N, K], seed++).to(dtype);
      const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
      const got = matmul(x, w, { backend: 'cpu' }).data as Float32Array;
      const err = relError(got, ref);
      if (!(err <= tolerance(dtype) / 10)) throw new Error(`M=${M} K=${K} N=${N} ${dtype}: rel error ${err}`);
    }
  });
});

test('native parity suite ran or says why not', () => {
  if (!native) console.warn('parity: native addon not loaded, cpu-vs-js parity skipped');
  expect(typeof native).toBe('boolean');
});
