import { ByteTokenizer } from '../../lib/generate/byte_tokenizer';
import { syntheticModel } from '../../lib/models/synthetic';

describe('syntheticModel', () => {
  test('generates deterministically from a seed and streams text', async () => {
    const model = syntheticModel({ dim: 64, layers: 2, heads: 4, kvHeads: 2, maxSeqLen: 64 });
    expect(model.config).toMatchObject({ dim: 64, layers: 2, heads: 4, kvHeads: 2, source: 'synthetic', vocabSize: 259 });
    const a = await model.complete('hello', { maxTokens: 12, seed: 7, temperature: 1 });
    const b = await model.complete('hello', { maxTokens: 12, seed: 7, temperature: 1 });
    expect(a).toBe(b);
    const logits = await model.logits(model.tokenizer.encode('hi'));
    expect(logits.shape).toEqual([3, 259]);
    expect(Array.from(logits.data as Float32Array).every(Number.isFinite)).toBe(true);
    // Random weights give non-degenerate logits.
    expect(new Set(Array.from(logits.data as Float32Array).slice(0, 259)).size).toBeGreaterThan(200);
  });

  test('same seed gives the same weights; another seed differs', async () => {
    const ids = [1, 10, 20];
    const l1 = await syntheticModel({ dim: 32, layers: 1, seed: 3 }).logits(ids);
    const l2 = await syntheticModel({ dim: 32, layers: 1, seed: 3 }).logits(ids);
    const l3 = await syntheticModel({ dim: 32, layers: 1, seed: 4 }).logits(ids);
    expect(Array.from(l1.data)).toEqual(Array.from(l2.data));
    expect(Array.from(l1.data)).not.toEqual(Array.from(l3.data));
  });

  test('bad options throw ERR_ARG', () => {
    expect(() => syntheticModel({ dim: 30, heads: 4 })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => syntheticModel({ layers: 0 })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => syntheticModel({ bogus: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => syntheticModel({ dtype: 'f64' as never })).toThrow(expect.objectContaining({ code: 'ERR_DTYPE' }));
  });
});

test('ByteTokenizer round-trips any string, including multi-byte characters', () => {
  const t = new ByteTokenizer();
  for (const s of ['', 'abc', 'héllo wörld', '日本語 🙂', '\u0000\n']) {
    const ids = t.encode(s);
    expect(ids[0]).toBe(1);
    expect(t.decode(ids)).toBe(s);
  }
  expect(t.encode('a', { bos: false, eos: true })).toEqual([3 + 97, 2]);
});
