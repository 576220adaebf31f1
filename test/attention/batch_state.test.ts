/**
 * Policies hold no per-sequence state of their own: sequences decoded together (generateBatch,
 * BatchScheduler) share one policy object, and each must produce exactly the tokens it produces
 * alone. The prompts have the same length, so both sequences sit at the same positions every step
 * (where TidalDecode's old policy-wide `kvHead:pos` map let one sequence read the other's choice).
 */
import { createAttentionPolicy } from '../../lib/attention/create';
import type { AttentionOption } from '../../lib/attention/create';
import { BatchScheduler } from '../../lib/generate/scheduler';
import type { Model } from '../../lib/models/model';
import { describeWithStories, loadStories } from '../models/stories';

const TEXTS = [
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.',
  'One day, a big dog named Rex found a box in the yard. The box was old and dirty and very big.',
];

function samePrompts(m: Model): number[][] {
  const ids = TEXTS.map((t) => m.tokenizer.encode(t));
  const n = Math.min(...ids.map((x) => x.length));
  return ids.map((x) => x.slice(0, n));
}

async function alone(m: Model, prompt: number[], attention: () => AttentionOption, maxTokens: number): Promise<number[]> {
  const out: number[] = [];
  for await (const c of m.generate(prompt, { maxTokens, temperature: 0, attention: attention() })) out.push(c.token);
  return out;
}

describeWithStories('per-sequence policy state in batches (stories260K)', () => {
  // Budgets well under the ~24-60 token sequences, so every policy really selects.
  const specs: Array<[string, () => AttentionOption]> = [
    ['tidal', () => createAttentionPolicy({ policy: 'tidal', budget: 6, selectionLayers: [1, 3] })],
    ['quest', () => createAttentionPolicy({ policy: 'quest', budget: 8, pageSize: 4 })],
    ['doubleSparsity', () => createAttentionPolicy({ policy: 'doubleSparsity', budget: 6, labelChannels: 2 })],
    ['streaming evict', () => createAttentionPolicy({ policy: 'streaming', sinks: 2, window: 10, evict: true })],
    ['moa', () => createAttentionPolicy({ policy: 'moa', spans: Array.from({ length: 5 }, () => [{ alpha: 4, beta: 0.1 }, { alpha: 8, beta: 0 }]) })],
  ];

  test.each(specs)('%s: generateBatch gives each prompt the tokens it gets alone', async (_name, make) => {
    const m = await loadStories();
    const prompts = samePrompts(m);
    const solo = [await alone(m, prompts[0]!, make, 32), await alone(m, prompts[1]!, make, 32)];
    const shared = make(); // one policy object for the whole batch
    const together: number[][] = [[], []];
    for await (const c of m.generateBatch(prompts, { maxTokens: 32, temperature: 0, attention: shared })) together[c.index]!.push(c.token);
    expect(together).toEqual(solo);
    // The sparse run differs from dense somewhere, so the policy was really selecting.
    const dense = [await alone(m, prompts[0]!, () => ({ policy: 'full' }), 32), await alone(m, prompts[1]!, () => ({ policy: 'full' }), 32)];
    if (_name === 'tidal') expect(solo).not.toEqual(dense);
  });

  test.each([
    ['tidal', () => createAttentionPolicy({ policy: 'tidal', budget: 6, selectionLayers: [1, 3] })],
    ['streaming evict', () => createAttentionPolicy({ policy: 'streaming', sinks: 2, window: 10, evict: true })],
  ] as const)('%s through the BatchScheduler: same tokens as alone', async (_name, make) => {
    const m = await loadStories();
    const prompts = samePrompts(m);
    const solo = [await alone(m, prompts[0]!, make, 24), await alone(m, prompts[1]!, make, 24)];
    const s = new BatchScheduler(m, { maxBatch: 2, backend: 'cpu', attention: make() });
    const collect = async (p: number[]) => {
      const out: number[] = [];
      for await (const c of s.submit(p, { maxTokens: 24, temperature: 0 })) out.push(c.token);
      return out;
    };
    const got = await Promise.all(prompts.map(collect));
    expect(s.stats.maxBatchSeen).toBe(2);
    expect(got).toEqual(solo);
  });
});
