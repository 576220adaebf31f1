/** stories260K through the llama2.c loader: known greedy text, backend parity, KV cache vs full forward. */
import { cpuBackend } from '../../lib/backend/select';
import { relError } from '../helpers';
import { describeWithStories, loadStories, OPENING } from './stories';

const backends = cpuBackend() ? (['js', 'cpu'] as const) : (['js'] as const);

describeWithStories('llama2.c stories260K', () => {
  test('config comes from the header', async () => {
    const m = await loadStories();
    expect(m.config).toMatchObject({ dim: 64, hiddenDim: 172, layers: 5, heads: 8, kvHeads: 4, vocabSize: 512, maxSeqLen: 512 });
    expect(m.config.tiedEmbeddings).toBe(true);
  });

  test.each(backends)('greedy decoding from BOS gives the known opening (%s)', async (backend) => {
    const m = await loadStories();
    const text = await m.complete([1], { temperature: 0, maxTokens: 40, backend });
    expect(text.startsWith(OPENING)).toBe(true);
  });

  test('greedy continuation of a string prompt', async () => {
    const m = await loadStories();
    const text = await m.complete('Once upon a time, there was a little girl named', { temperature: 0, maxTokens: 3 });
    expect(text).toBe(' Lily. She');
  });

  test('logits: cpu matches js (f32, rel err ≤ 1e-5)', async () => {
    if (!cpuBackend()) return;
    const m = await loadStories();
    const ids = m.tokenizer.encode(OPENING);
    const a = await m.logits(ids, { backend: 'js' });
    const b = await m.logits(ids, { backend: 'cpu' });
    expect(a.shape).toEqual([ids.length, 512]);
    expect(relError(b.data as Float32Array, a.data as Float32Array)).toBeLessThanOrEqual(1e-5);
  });

  test('KV cache: prefill then token-by-token decode matches the full forward (≤ 1e-4)', async () => {
    const m = await loadStories();
    const ids = m.tokenizer.encode(OPENING);
    const full = (await m.logits(ids, { backend: 'js' })).data as Float32Array;
    const net = m.network;
    const cache = net.newCache(4); // small on purpose: decoding must grow it
    const split = 7;
    const rows: Float32Array[] = [];
    rows.push(await net.forward([{ ids: ids.slice(0, split), cache }], { allLogits: true, backend: 'js' }));
    for (let t = split; t < ids.length; t++) rows.push(await net.forward([{ ids: [ids[t]!], cache }], { allLogits: false, backend: 'js' }));
    const inc = new Float32Array(full.length);
    let o = 0;
    for (const r of rows) {
      inc.set(r, o);
      o += r.length;
    }
    expect(o).toBe(full.length);
    expect(cache.length).toBe(ids.length);
    expect(relError(inc, full)).toBeLessThanOrEqual(1e-4);
  });

  test('bf16 weights stay close to f32 (≤ 1e-2)', async () => {
    const { loadModel } = await import('../../lib/models/load');
    const { STORIES_BIN, STORIES_TOK } = await import('./stories');
    const m = await loadStories();
    const h = await loadModel(STORIES_BIN, { tokenizer: STORIES_TOK, dtype: 'bf16' });
    expect(h.config.weightDType).toBe('bf16');
    const ids = m.tokenizer.encode(OPENING);
    const a = (await m.logits(ids)).data as Float32Array;
    const b = (await h.logits(ids)).data as Float32Array;
    expect(relError(b, a)).toBeLessThanOrEqual(1e-2);
  });

  test('out-of-vocabulary ids are refused', async () => {
    const m = await loadStories();
    await expect(m.logits([1, 512])).rejects.toMatchObject({ code: 'ERR_ARG' });
    await expect(m.logits([])).rejects.toMatchObject({ code: 'ERR_ARG' });
  });
});
