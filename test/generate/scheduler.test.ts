import { BatchScheduler } from '../../lib/generate/scheduler';
import { syntheticModel } from '../../lib/models/synthetic';
import type { GeneratedChunk } from '../../lib/generate/generate';

const model = syntheticModel({ dim: 64, layers: 2, heads: 4, kvHeads: 2, maxSeqLen: 128 });

async function collect(g: AsyncGenerator<GeneratedChunk>): Promise<number[]> {
  const ids: number[] = [];
  for await (const c of g) ids.push(c.token);
  return ids;
}

describe('BatchScheduler (continuous batching)', () => {
  test.each(['js', 'cpu'] as const)('concurrent requests match the same requests run alone (%s)', async (backend) => {
    const prompts = ['Once upon a time', 'hello', 'a', 'The quick brown fox jumps', 'xyz xyz', 'zz'];
    const opts = prompts.map((_, i) => ({ maxTokens: 6 + i * 3, seed: 100 + i, temperature: i % 2 ? 0.8 : 0, topK: 40 }));
    const solo: number[][] = [];
    for (let i = 0; i < prompts.length; i++) {
      const ids: number[] = [];
      for await (const c of model.generate(prompts[i]!, { ...opts[i], backend })) ids.push(c.token);
      solo.push(ids);
    }
    const s = new BatchScheduler(model, { maxBatch: 4, backend });
    const together = await Promise.all(prompts.map((p, i) => collect(s.submit(p, opts[i]))));
    expect(together).toEqual(solo);
    expect(s.stats.maxBatchSeen).toBe(4); // really batched, and capped
    expect(solo.every((ids, i) => ids.length > 0 && ids.length <= opts[i]!.maxTokens)).toBe(true);
  });

  test('an aborted request rejects with its reason; the others finish', async () => {
    const s = new BatchScheduler(model);
    const ac = new AbortController();
    const reason = new Error('client went away');
    const doomed = (async () => {
      let n = 0;
      for await (const _ of s.submit('abc', { maxTokens: 100, signal: ac.signal })) if (++n === 3) ac.abort(reason);
    })();
    const fine = collect(s.submit('def', { maxTokens: 10, seed: 1 }));
    await expect(doomed).rejects.toBe(reason);
    expect((await fine).length).toBeGreaterThan(0);
    expect(s.load).toEqual({ active: 0, waiting: 0 });
  });

  test('breaking out of the loop frees the slot', async () => {
    const s = new BatchScheduler(model, { maxBatch: 1 });
    for await (const _ of s.submit('abc', { maxTokens: 100 })) break;
    // With one slot, the next request can only finish if the abandoned one was dropped.
    const ids = await collect(s.submit('q', { maxTokens: 4, seed: 2 }));
    expect(ids.length).toBeGreaterThan(0);
    expect(s.load).toEqual({ active: 0, waiting: 0 });
  });

  test('bad options are rejected at submit', () => {
    const s = new BatchScheduler(model);
    expect(() => s.submit('a', { maxTokens: -1 })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => s.submit('a', { backend: 'js' } as never)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => s.submit([9999], {})).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => new BatchScheduler(model, { maxBatch: 0 })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  });
});
