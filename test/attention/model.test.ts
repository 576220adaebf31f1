/**
 * Sparse attention inside the model: the `attention` option of generate and perplexity takes a
 * spec, a per-layer map or a policy; a budget covering the context reproduces dense results; a
 * small budget changes them.
 */
import { perplexity } from '../../lib/eval/perplexity';
import { createAttentionPolicy, QuestPolicy } from '../../lib/index';
import { describeWithStories, loadStories, OPENING } from '../models/stories';

describeWithStories('sparse attention in stories260K', () => {
  const text = `${OPENING} One day, she saw a big red ball under a tree. She ran to the ball and kicked it high in the sky. Her friend Tom came to play with her. They laughed and played all day.`;

  test('perplexity: budgets >= the text equal dense, small budgets differ', async () => {
    const m = await loadStories();
    const dense = await perplexity(m, text);
    for (const attention of [
      { policy: 'quest', budget: 512 } as const,
      { policy: 'streaming', sinks: 4, window: 508 } as const,
      { policy: 'doubleSparsity', budget: 512 } as const,
      { policy: 'tidal', budget: 512 } as const,
      { default: { policy: 'quest', budget: 512 }, layers: { 1: { policy: 'streaming', window: 600 } } } as const,
    ]) {
      const r = await perplexity(m, text, { attention });
      expect(Math.abs(r.nll - dense.nll)).toBeLessThan(1e-5);
    }
    const small = await perplexity(m, text, { attention: { policy: 'streaming', sinks: 1, window: 8 } });
    expect(Math.abs(small.nll - dense.nll)).toBeGreaterThan(1e-3);
  });

  test('generate takes a spec, a map or a policy object, and rejects bad ones', async () => {
    const m = await loadStories();
    const run = async (attention: unknown) => {
      let out = '';
      for await (const c of m.generate(OPENING, { maxTokens: 12, temperature: 0, attention: attention as never })) out += c.text;
      return out;
    };
    const dense = await run(undefined);
    expect(await run({ policy: 'quest', budget: 512, pageSize: 16 })).toBe(dense);
    expect(await run(new QuestPolicy({ budget: 512 }))).toBe(dense);
    expect(await run(createAttentionPolicy({ default: { policy: 'full' }, heads: { '0:0': { policy: 'moa', spans: [[{ alpha: 600, beta: 0 }]] } } }))).toBe(dense);
    expect(typeof (await run({ policy: 'streaming', sinks: 2, window: 6 }))).toBe('string');
    await expect(run({ policy: 'quest' })).rejects.toMatchObject({ code: 'ERR_ARG' });
    await expect(run({ budget: 3 })).rejects.toMatchObject({ code: 'ERR_ARG' });
  });
});
