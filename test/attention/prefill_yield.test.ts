/**
 * A sparse-attention prefill runs prompt rows one by one on the main thread; it must yield to the
 * event loop every few milliseconds, so a server stays responsive while a long prompt is read.
 */
import { createAttentionPolicy } from '../../lib/attention/create';
import { KvCache } from '../../lib/generate/kv_cache';
import { attendSpans } from '../../lib/nn/attention';
import { Tensor } from '../../lib/tensor';

test('the event loop keeps turning during a per-row sparse prefill', async () => {
  const T = 3000;
  const shape = { heads: 8, kvHeads: 2, headDim: 64 };
  const cache = new KvCache(1, shape.kvHeads, shape.headDim, T, T);
  cache.fillSynthetic(T, 3);
  cache.length = 0; // the prompt's rows are written; attention of all T rows is what runs
  const q = Tensor.random([T * shape.heads * shape.headDim], 4).data as Float32Array;
  const out = new Float32Array(q.length);
  const policy = createAttentionPolicy({ policy: 'quest', budget: 256 });
  // Warm-up (addon load, first compilation) on a few rows.
  await attendSpans(q, [{ cache, pos0: 0, row: 0, count: 50 }], 0, shape, out, policy, 'cpu');
  let last = performance.now();
  let maxGap = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 1);
  const t0 = performance.now();
  try {
    await attendSpans(q, [{ cache, pos0: 0, row: 0, count: T }], 0, shape, out, policy, 'cpu');
  } finally {
    clearInterval(timer);
  }
  const total = performance.now() - t0;
  // Without yielding the whole call would be one gap of `total` ms.
  expect(total).toBeGreaterThan(60);
  expect(ticks).toBeGreaterThan(5);
  expect(maxGap).toBeLessThan(total / 3);
});
