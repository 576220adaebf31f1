/** llama2.c → safetensors folder: the HF loader must reproduce the llama2.c model exactly. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertLlama2cToSafetensors, permuteRopeRows } from '../../lib/models/convert';
import { loadModel } from '../../lib/models/load';
import type { Model } from '../../lib/models/model';
import { applyRope } from '../../lib/nn/rope';
import { relError, rng } from '../helpers';
import { describeWithStories, loadStories, OPENING, STORIES_BIN, STORIES_TOK } from './stories';

test('permuting wq rows turns interleaved RoPE into rotate-half RoPE', () => {
  const r = rng(3);
  const heads = 3;
  const hd = 8;
  const cols = 5;
  const w = Float32Array.from({ length: heads * hd * cols }, () => r() - 0.5);
  const x = Float32Array.from({ length: cols }, () => r() - 0.5);
  const mul = (m: Float32Array) => Float32Array.from({ length: heads * hd }, (_, i) => {
    let s = 0;
    for (let k = 0; k < cols; k++) s += m[i * cols + k]! * x[k]!;
    return s;
  });
  const a = mul(w);
  applyRope(a, 0, heads, hd, 37, 10000, 'interleaved');
  const b = mul(permuteRopeRows(w, heads, hd, cols));
  applyRope(b, 0, heads, hd, 37, 10000, 'half');
  // Same rotated values, in the permuted order.
  expect(relError(permuteRopeRows(a, heads, hd, 1), b)).toBeLessThan(1e-6);
});

describeWithStories('convertLlama2cToSafetensors (stories260K)', () => {
  let dir: string;
  let hf: Model;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sparsenn-convert-'));
    await convertLlama2cToSafetensors(STORIES_BIN, STORIES_TOK, dir);
    hf = await loadModel(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('writes a Llama config that the HF loader reads', () => {
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ model_type: 'llama', hidden_size: 64, num_key_value_heads: 4, tie_word_embeddings: true });
    expect(hf.config).toMatchObject({ architecture: 'llama', source: 'safetensors', ropeLayout: 'half', dim: 64, kvHeads: 4 });
  });

  test('logits of the converted folder match the llama2.c load (≤ 1e-5)', async () => {
    const orig = await loadStories();
    const ids = orig.tokenizer.encode(OPENING);
    const a = (await orig.logits(ids, { backend: 'js' })).data as Float32Array;
    const b = (await hf.logits(ids, { backend: 'js' })).data as Float32Array;
    expect(relError(b, a)).toBeLessThanOrEqual(1e-5);
  });

  test('tokenizer.json encodes and decodes like the llama2.c tokenizer', async () => {
    const orig = await loadStories();
    const texts = [
      OPENING,
      'Tom and Sue went to the big park. They saw a dog!',
      '  two  spaces, tabs\tand\nnew lines',
      'Unicode: naïve café, 日本語, emoji 🙂.',
      'x',
      '',
    ];
    for (const t of texts) {
      const a = orig.tokenizer.encode(t);
      const b = hf.tokenizer.encode(t);
      expect(b).toEqual(a);
      expect(hf.tokenizer.decode(b)).toBe(orig.tokenizer.decode(a));
      expect(orig.tokenizer.decode(a)).toBe(t);
    }
  });

  test('greedy decoding from BOS gives the known opening through the HF path', async () => {
    const text = await hf.complete([1], { temperature: 0, maxTokens: 40 });
    expect(text.startsWith(OPENING)).toBe(true);
  });

  test('an untied head (lm_head.weight present, tie_word_embeddings false) is read and used', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'sparsenn-untied-'));
    try {
      const st = readFileSync(join(dir, 'model.safetensors'));
      const n = Number(st.readBigUInt64LE(0));
      const header = JSON.parse(st.subarray(8, 8 + n).toString('utf8'));
      const e = header['model.embed_tokens.weight'];
      const end = Math.max(...Object.values(header as Record<string, { data_offsets?: number[] }>).map((v) => v.data_offsets?.[1] ?? 0));
      // lm_head = 2 × embedding: logits double, so the head is provably the one read.
      const emb = new Float32Array(st.buffer.slice(st.byteOffset + 8 + n + e.data_offsets[0], st.byteOffset + 8 + n + e.data_offsets[1]));
      const head = Buffer.from(Float32Array.from(emb, (v) => 2 * v).buffer);
      header['lm_head.weight'] = { dtype: 'F32', shape: e.shape, data_offsets: [end, end + head.length] };
      const json = Buffer.from(JSON.stringify(header));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      writeFileSync(join(d2, 'model.safetensors'), Buffer.concat([len, json, st.subarray(8 + n), head]));
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      writeFileSync(join(d2, 'config.json'), JSON.stringify({ ...cfg, tie_word_embeddings: false }));
      writeFileSync(join(d2, 'tokenizer.json'), readFileSync(join(dir, 'tokenizer.json')));
      const m = await loadModel(d2);
      expect(m.config.tiedEmbeddings).toBe(false);
      const ids = [1, 403, 407];
      const a = (await hf.logits(ids)).data as Float32Array;
      const b = (await m.logits(ids)).data as Float32Array;
      expect(relError(b, Float32Array.from(a, (v) => 2 * v))).toBeLessThanOrEqual(1e-6);
    } finally {
      rmSync(d2, { recursive: true, force: true });
    }
  });

  test('bf16 conversion loads and stays close (≤ 1e-2)', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'sparsenn-convert-bf16-'));
    try {
      await convertLlama2cToSafetensors(STORIES_BIN, STORIES_TOK, d2, { dtype: 'bf16' });
      const m = await loadModel(d2);
      expect(m.config.weightDType).toBe('bf16');
      const ids = m.tokenizer.encode(OPENING);
      const a = (await hf.logits(ids)).data as Float32Array;
      const b = (await m.logits(ids)).data as Float32Array;
      expect(relError(b, a)).toBeLessThanOrEqual(1e-2);
    } finally {
      rmSync(d2, { recursive: true, force: true });
    }
  });
});
