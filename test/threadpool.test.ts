// The native thread pool hands regions to workers that spin briefly, then sleep. These tests drive
// it the ways that could lose a wake-up or a region: back-to-back calls, calls after the workers
// have gone to sleep, concurrent async callers, and resizes in between. A lost region hangs
// (the test times out); a region run twice or half run gives a different answer.
import { backendInfo, matmul, matmulAsync, setThreads, Tensor, toCsr } from '../lib/index';
import { relError } from './helpers';

const native = backendInfo().backend !== 'js';
const maybe = native ? describe : describe.skip;
if (!native) console.warn('threadpool tests skipped: no native addon loaded');

maybe('native thread pool', () => {
  const x = Tensor.random([3, 257], 11);
  const w = Tensor.random([301, 257], 12);
  const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
  const sameAsRef = (y: Tensor): void => expect(relError(y.data as Float32Array, ref)).toBeLessThan(1e-5);
  afterAll(() => setThreads(2));

  test('hundreds of back-to-back regions, each complete', () => {
    for (let i = 0; i < 300; i++) sameAsRef(matmul(x, w, { backend: 'cpu' }));
  });

  test('a region after the workers have gone to sleep', async () => {
    for (const pause of [1, 5, 20]) {
      await new Promise((r) => setTimeout(r, pause));
      sameAsRef(matmul(x, w, { backend: 'cpu' }));
    }
  });

  test('concurrent async callers take turns and all finish', async () => {
    const csr = toCsr(w);
    const ys = await Promise.all(
      Array.from({ length: 24 }, (_, i) => matmulAsync(x, i % 2 ? csr : w, { backend: 'cpu' })),
    );
    for (const y of ys) sameAsRef(y);
  });

  test('resizing between regions keeps answers and the pool usable', async () => {
    for (const n of [1, 3, 2, 4, 2]) {
      expect(setThreads(n)).toBe(n);
      sameAsRef(matmul(x, w, { backend: 'cpu' }));
      sameAsRef(await matmulAsync(x, w, { backend: 'cpu' }));
    }
  });
});
