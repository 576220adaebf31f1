/** Perplexity of stories260K on TinyStories-like text, full window and sliding window. */
import { perplexity } from '../../lib/eval/perplexity';
import { describeWithStories, loadStories } from '../models/stories';

const STORY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. ' +
  'One day, she saw a big red ball under a tree. She ran to the ball and kicked it high in the sky. ' +
  'Her friend Tom came to play with her. They laughed and played all day. When the sun went down, ' +
  'they went home and had a happy dinner with their mom and dad.';

describeWithStories('perplexity (stories260K)', () => {
  test('is finite and far below the vocabulary size on a TinyStories-like text', async () => {
    const m = await loadStories();
    const r = await perplexity(m, STORY);
    const ids = m.tokenizer.encode(STORY);
    expect(r.tokens).toBe(ids.length - 1);
    expect(Number.isFinite(r.perplexity)).toBe(true);
    expect(r.perplexity).toBeCloseTo(Math.exp(r.nll), 6);
    // Uniform guessing would give 512; measured 2.65 over 134 tokens (js and cpu agree).
    expect(r.perplexity).toBeLessThan(20);
    expect(r.perplexity).toBeGreaterThan(1);
  });

  test('scrambled text is much less likely than the story', async () => {
    const m = await loadStories();
    const words = STORY.split(' ');
    const scrambled = words.map((_, i) => words[(i * 7) % words.length]).join(' ');
    const a = await perplexity(m, STORY);
    const b = await perplexity(m, scrambled);
    expect(b.perplexity).toBeGreaterThan(2 * a.perplexity);
  });

  test('sliding window scores every token once; wide overlap approaches the full-context value', async () => {
    const m = await loadStories();
    const full = await perplexity(m, STORY);
    const slid = await perplexity(m, STORY, { window: 48, stride: 8 });
    const short = await perplexity(m, STORY, { window: 8, stride: 7 });
    expect(slid.tokens).toBe(full.tokens);
    expect(short.tokens).toBe(full.tokens);
    expect(Math.abs(slid.nll - full.nll)).toBeLessThan(Math.abs(short.nll - full.nll));
    expect(short.nll).toBeGreaterThan(full.nll); // less context, worse predictions
  });

  test('maxTokens, backends and bad options', async () => {
    const m = await loadStories();
    const r = await perplexity(m, STORY, { maxTokens: 10, backend: 'js' });
    expect(r.tokens).toBe(10);
    await expect(perplexity(m, STORY, { bogus: 1 } as never)).rejects.toMatchObject({ code: 'ERR_ARG' });
    await expect(perplexity(m, STORY, { stride: 0 })).rejects.toMatchObject({ code: 'ERR_ARG' });
    await expect(perplexity(m, '')).rejects.toMatchObject({ code: 'ERR_ARG' });
  });
});

