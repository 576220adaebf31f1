/** The decoding loop on stories260K: determinism, cancellation, stop conditions, streaming, batching. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../lib/models/load';
import { cpuBackend } from '../../lib/backend/select';
import { relError } from '../helpers';
import { createAttentionPolicy } from '../../lib/attention/create';
import { TextStream } from '../../lib/generate/tokenizer';
import type { AttentionPolicy, KeySelection } from '../../lib/nn/attention';
import { GOOD, llama2cFile, tokFile } from '../models/fixtures';
import { describeWithStories, loadStories, OPENING } from '../models/stories';

describeWithStories('generate (stories260K)', () => {
  test('seeded sampling is deterministic; another seed gives other text', async () => {
    const m = await loadStories();
    const opts = { temperature: 1, topK: 40, topP: 0.95, minP: 0.02, repetitionPenalty: 1.1, maxTokens: 40 };
    const a = await m.complete('Once upon a time', { ...opts, seed: 42 });
    const b = await m.complete('Once upon a time', { ...opts, seed: 42 });
    const c = await m.complete('Once upon a time', { ...opts, seed: 43 });
    expect(a.length).toBeGreaterThan(20);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  test('chunks carry one token each and their text concatenates to decode(tokens)', async () => {
    const m = await loadStories();
    const tokens: number[] = [];
    let text = '';
    const prompt = m.tokenizer.encode('Tom had a dog');
    for await (const c of m.generate(prompt, { seed: 1, maxTokens: 25 })) {
      tokens.push(c.token);
      text += c.text;
    }
    expect(tokens.length).toBe(25);
    // Continuation text keeps its leading space: compare against decoding prompt + continuation.
    expect(m.tokenizer.decode(prompt) + text).toBe(m.tokenizer.decode([...prompt, ...tokens]));
  });

  test('stop strings end generation before the stop string', async () => {
    const m = await loadStories();
    const text = await m.complete([1], { temperature: 0, maxTokens: 100, stop: ['Lily', 'zebra'] });
    expect(text).toBe('Once upon a time, there was a little girl named ');
  });

  test('stop token ids end generation without emitting the token', async () => {
    const m = await loadStories();
    const comma = m.tokenizer.encode(',', { bos: false }).at(-1)!;
    const text = await m.complete([1], { temperature: 0, maxTokens: 100, stop: [comma] });
    expect(text).toBe('Once upon a time');
  });

  test('abort mid-generation rejects with the signal reason and stops promptly', async () => {
    const m = await loadStories();
    const ac = new AbortController();
    const reason = new Error('client went away');
    const got: number[] = [];
    const run = (async () => {
      for await (const c of m.generate([1], { temperature: 0, maxTokens: 200, signal: ac.signal })) {
        got.push(c.token);
        if (got.length === 3) ac.abort(reason);
      }
    })();
    await expect(run).rejects.toBe(reason);
    expect(got.length).toBe(3);
  });

  test('abort from a timer interrupts a running generation', async () => {
    const m = await loadStories();
    const ac = new AbortController();
    let n = 0;
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 30);
    const run = (async () => {
      for await (const _ of m.generate([1], { maxTokens: 500, seed: 3, signal: ac.signal })) n++;
    })();
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(n).toBeLessThan(500);
  });

  test('an already-aborted signal rejects before any token', async () => {
    const m = await loadStories();
    const reason = new Error('too late');
    await expect(m.complete('hi', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  test('bad options are refused with ERR_ARG at the call', async () => {
    const m = await loadStories();
    expect(() => m.generate('x', { bogus: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => m.generate('x', { maxTokens: -1 })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => m.generate('x', { stop: [{}] as never })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => m.generate('x', { backend: 'gpu' as never })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => m.generate('x', { temperature: -2 })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    await expect(m.complete([1, 9999])).rejects.toMatchObject({ code: 'ERR_ARG' });
  });

  test('streaming never splits a UTF-8 character (byte-fallback tokens)', async () => {
    const m = await loadStories();
    const s = 'Lily saw 日本 and 🙂 in the café.';
    const ids = m.tokenizer.encode(s);
    expect(ids.length).toBeGreaterThan(s.length / 2); // many byte tokens
    const stream = new TextStream(m.tokenizer);
    const chunks = ids.map((id) => stream.push(id));
    chunks.push(stream.flush());
    expect(chunks.join('')).toBe(s);
    for (const c of chunks) expect(c).not.toContain('\uFFFD');
    expect(chunks.filter((c) => c === '').length).toBeGreaterThan(0); // bytes waited for their character
  });

  test('generateBatch gives each prompt the same greedy text as generating it alone', async () => {
    const m = await loadStories();
    const prompts = ['Once upon a time', 'Tom and Sue went to the park', 'The big dog'];
    const solo = await Promise.all(prompts.map((p) => m.complete(p, { temperature: 0, maxTokens: 20 })));
    const batch = ['', '', ''];
    const order: number[] = [];
    for await (const c of m.generateBatch(prompts, { temperature: 0, maxTokens: 20 })) {
      batch[c.index] += c.text;
      order.push(c.index);
    }
    expect(batch).toEqual(solo);
    expect(order.slice(0, 3)).toEqual([0, 1, 2]); // interleaved, one token per prompt per step
  });

  test('lib/attention policies plug in through the kernel path (full = default; streaming window differs)', async () => {
    const m = await loadStories();
    const ids = m.tokenizer.encode(OPENING);
    const full = (await m.logits(ids)).data;
    for (const backend of cpuBackend() ? (['js', 'cpu'] as const) : (['js'] as const)) {
      const viaPolicy = (await m.logits(ids, { attention: createAttentionPolicy({ policy: 'full' }), backend })).data;
      expect(relError(viaPolicy, full)).toBeLessThanOrEqual(1e-5);
    }
    const streaming = createAttentionPolicy({ policy: 'streaming', sinks: 1, window: 4 });
    // logits takes the same spec form as generate.
    expect(Array.from((await m.logits(ids, { attention: { policy: 'streaming', sinks: 1, window: 4 } })).data)).toEqual(
      Array.from((await m.logits(ids, { attention: streaming })).data),
    );
    await expect(m.logits(ids, { attention: { policy: 'nope' } as never })).rejects.toMatchObject({ code: 'ERR_ARG' });
    const s = (await m.logits(ids, { attention: streaming })).data;
    expect(relError(s, full)).toBeGreaterThan(1e-3);
    // Same selection through the kernel path and through the model's selectKeys path.
    const keysOnly = { selectKeys: streaming.selectKeys.bind(streaming) };
    expect(relError((await m.logits(ids, { attention: keysOnly })).data, s)).toBeLessThanOrEqual(1e-5);
  });

  test('attention policy: selecting every key equals full attention; a restricted one changes the output', async () => {
    const m = await loadStories();
    const ids = m.tokenizer.encode(OPENING);
    const seen: KeySelection[] = [];
    const all: AttentionPolicy = {
      selectKeys: (s) => {
        seen.push(s);
        return Array.from({ length: s.pos + 1 }, (_, i) => i);
      },
    };
    const window: AttentionPolicy = { selectKeys: (s) => [Math.max(0, s.pos - 1), s.pos].filter((v, i, a) => a.indexOf(v) === i) };
    const full = (await m.logits(ids)).data;
    // selectKeys-only policies run through the js decodeAttention; the default runs the backend kernel.
    expect(relError((await m.logits(ids, { attention: all })).data, full)).toBeLessThanOrEqual(1e-6);
    expect(seen.length).toBe(ids.length * m.config.layers * m.config.kvHeads);
    expect(seen[0]!.queries.length).toBe((m.config.heads / m.config.kvHeads) * m.config.headDim);
    const windowed = (await m.logits(ids, { attention: window })).data;
    expect(Array.from(windowed)).not.toEqual(Array.from(full));
    const bad: AttentionPolicy = { selectKeys: (s) => [s.pos + 1] };
    await expect(m.logits(ids, { attention: bad })).rejects.toMatchObject({ code: 'ERR_ARG' });
    const text = await m.complete([1], { temperature: 0, maxTokens: 10, attention: all });
    expect(OPENING.startsWith(text.slice(0, 20))).toBe(true);
  });
});

test('generation stops at the context length (tiny synthetic model, seq_len 16)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sparsenn-ctx-'));
  try {
    writeFileSync(join(dir, 'm.bin'), llama2cFile(GOOD));
    writeFileSync(join(dir, 't.bin'), tokFile(32));
    const m = await loadModel(join(dir, 'm.bin'), { tokenizer: join(dir, 't.bin') });
    expect(m.config.maxSeqLen).toBe(16);
    const tokens: number[] = [];
    for await (const c of m.generate([1, 5, 6, 7, 8, 9, 10, 11, 12, 13], { temperature: 0.8, seed: 1, maxTokens: 50, stop: [] }))
      tokens.push(c.token);
    // 10 prompt tokens + at most 6 more fill the 16 positions; ends early only on BOS / EOS.
    expect(tokens.length).toBeLessThanOrEqual(6);
    expect(tokens.length).toBeGreaterThan(0);
    await expect(m.complete(new Array(17).fill(5))).rejects.toMatchObject({ code: 'ERR_ARG' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
