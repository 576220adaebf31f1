/** The llama2.c tokenizer on stories260K: round trips, byte fallback, agreement with what the model generates. */
import { describeWithStories, loadStories, OPENING } from '../models/stories';

describeWithStories('llama2.c tokenizer (tok512)', () => {
  test('round-trips text, including characters that need byte fallback', async () => {
    const t = (await loadStories()).tokenizer;
    for (const s of [OPENING, 'a', ' leading space', 'tabs\tand\nnewlines', 'Ünïcödé 日本 🙂', 'x  y   z']) {
      expect(t.decode(t.encode(s))).toBe(s);
      expect(t.decode(t.encode(s, { bos: false }))).toBe(s);
    }
    expect(t.encode('')).toEqual([1]);
    expect(t.encode('', { bos: false, eos: true })).toEqual([2]);
  });

  test('the opening encodes to the very tokens the model generates greedily', async () => {
    const m = await loadStories();
    const ids = m.tokenizer.encode(OPENING, { bos: false });
    const generated: number[] = [];
    for await (const c of m.generate([1], { temperature: 0, maxTokens: ids.length })) generated.push(c.token);
    expect(generated).toEqual(ids);
  });

  test('byte fallback uses <0xNN> tokens (id = byte + 3)', async () => {
    const t = (await loadStories()).tokenizer;
    const ids = t.encode('🙂', { bos: false });
    const bytes = [...Buffer.from('🙂')].map((b) => b + 3);
    expect(ids.slice(-4)).toEqual(bytes);
  });

  test('bad ids are refused', async () => {
    const t = (await loadStories()).tokenizer;
    expect(() => t.decode([600])).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => t.encode(5 as never)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  });
});
