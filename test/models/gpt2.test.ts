/**
 * A GPT-2-architecture model with small random weights, written to a safetensors folder
 * here, loaded back, and checked against an independent straightforward forward pass
 * (written below on the raw Conv1D [in, out] weights, sharing no code with lib/).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuBackend } from '../../lib/backend/select';
import { inlineCaseInsensitive } from '../../lib/generate/bpe_tokenizer';
import { loadModel } from '../../lib/models/load';
import type { Model } from '../../lib/models/model';
import { writeSafetensors } from '../../lib/models/safetensors';
import { Tensor } from '../../lib/tensor';
import { relError, rng } from '../helpers';

const D = 16;
const H = 2;
const L = 2;
const P = 24;
const INNER = 40;

/** GPT-2's byte → printable character map, written out independently of the library. */
function byteChars(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let n = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : 256 + n++));
}

function tokenizerJson(): { json: object; vocabSize: number } {
  const chars = byteChars();
  const vocab: Record<string, number> = {};
  chars.forEach((c, i) => (vocab[c] = i));
  const merges = [['Ġ', 't'], ['h', 'e'], ['Ġt', 'he'], ['l', 'l'], ['e', 'll'], ['h', 'ell'], ['hell', 'o']];
  for (const [a, b] of merges) vocab[a! + b!] = Object.keys(vocab).length;
  const eot = Object.keys(vocab).length;
  return {
    vocabSize: eot + 1,
    json: {
      version: '1.0',
      added_tokens: [{ id: eot, content: '<|endoftext|>', special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: 'ByteLevel', trim_offsets: true },
      decoder: { type: 'ByteLevel' },
      model: { type: 'BPE', vocab: { ...vocab, '<|endoftext|>': eot }, merges: merges.map((m) => m.join(' ')) },
    },
  };
}

interface Raw {
  [name: string]: { shape: number[]; data: Float32Array };
}

function randomWeights(V: number): Raw {
  const r = rng(21);
  const t = (shape: number[], scale = 0.3, offset = 0) => ({
    shape,
    data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => offset + (r() * 2 - 1) * scale),
  });
  const w: Raw = { 'wte.weight': t([V, D]), 'wpe.weight': t([P, D], 0.1) };
  for (let l = 0; l < L; l++) {
    const p = `h.${l}.`;
    Object.assign(w, {
      [p + 'ln_1.weight']: t([D], 0.2, 1),
      [p + 'ln_1.bias']: t([D], 0.1),
      [p + 'attn.c_attn.weight']: t([D, 3 * D]),
      [p + 'attn.c_attn.bias']: t([3 * D], 0.1),
      [p + 'attn.c_proj.weight']: t([D, D]),
      [p + 'attn.c_proj.bias']: t([D], 0.1),
      [p + 'ln_2.weight']: t([D], 0.2, 1),
      [p + 'ln_2.bias']: t([D], 0.1),
      [p + 'mlp.c_fc.weight']: t([D, INNER]),
      [p + 'mlp.c_fc.bias']: t([INNER], 0.1),
      [p + 'mlp.c_proj.weight']: t([INNER, D]),
      [p + 'mlp.c_proj.bias']: t([D], 0.1),
    });
  }
  w['ln_f.weight'] = t([D], 0.2, 1);
  w['ln_f.bias'] = t([D], 0.1);
  return w;
}

/** The reference: GPT-2 exactly as the paper/reference code computes it, in float64, no KV cache. */
function referenceLogits(w: Raw, ids: number[], V: number): Float64Array {
  const T = ids.length;
  const g = (n: string) => w[n]!.data;
  const ln = (x: number[], n: string) => {
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const v = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
    return x.map((xi, i) => ((xi - mean) / Math.sqrt(v + 1e-5)) * g(n + '.weight')[i]! + g(n + '.bias')[i]!);
  };
  // Conv1D: y = x · W + b with W [in, out].
  const conv = (x: number[], n: string, out: number) =>
    Array.from({ length: out }, (_, j) => x.reduce((s, xi, i) => s + xi * g(n + '.weight')[i * out + j]!, g(n + '.bias')[j]!));
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  let xs = ids.map((id, t) => Array.from({ length: D }, (_, d) => g('wte.weight')[id * D + d]! + g('wpe.weight')[t * D + d]!));
  const hd = D / H;
  for (let l = 0; l < L; l++) {
    const p = `h.${l}.`;
    const qkv = xs.map((x) => conv(ln(x, p + 'ln_1'), p + 'attn.c_attn', 3 * D));
    const att = xs.map((_, t) => {
      const out = new Array<number>(D).fill(0);
      for (let h = 0; h < H; h++) {
        const s = Array.from({ length: t + 1 }, (_, u) => {
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += qkv[t]![h * hd + d]! * qkv[u]![D + h * hd + d]!;
          return dot / Math.sqrt(hd);
        });
        const m = Math.max(...s);
        const e = s.map((v) => Math.exp(v - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let u = 0; u <= t; u++) for (let d = 0; d < hd; d++) out[h * hd + d]! += (e[u]! / z) * qkv[u]![2 * D + h * hd + d]!;
      }
      return out;
    });
    xs = xs.map((x, t) => {
      const a = conv(att[t]!, p + 'attn.c_proj', D);
      const x1 = x.map((v, i) => v + a[i]!);
      const m = conv(conv(ln(x1, p + 'ln_2'), p + 'mlp.c_fc', INNER).map(gelu), p + 'mlp.c_proj', D);
      return x1.map((v, i) => v + m[i]!);
    });
  }
  const out = new Float64Array(T * V);
  xs.forEach((x, t) => {
    const f = ln(x, 'ln_f');
    for (let v = 0; v < V; v++) out[t * V + v] = f.reduce((s, fi, i) => s + fi * g('wte.weight')[v * D + i]!, 0);
  });
  return out;
}

describe('GPT-2 from a safetensors folder', () => {
  let dir: string;
  let model: Model;
  let raw: Raw;
  let V: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sparsenn-gpt2-'));
    const tok = tokenizerJson();
    V = tok.vocabSize;
    raw = randomWeights(V);
    const tensors: Record<string, Tensor> = {};
    // Stored under the "transformer." prefix, as GPT2LMHeadModel checkpoints are.
    for (const [n, t] of Object.entries(raw)) tensors['transformer.' + n] = new Tensor(t.data, t.shape);
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok.json));
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        model_type: 'gpt2', n_embd: D, n_head: H, n_layer: L, n_positions: P, n_inner: INNER, vocab_size: V,
        layer_norm_epsilon: 1e-5, activation_function: 'gelu_new', bos_token_id: V - 1, eos_token_id: V - 1,
      }),
    );
    model = await loadModel(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('config', () => {
    expect(model.config).toMatchObject({ architecture: 'gpt2', dim: D, heads: H, layers: L, vocabSize: V, maxSeqLen: P });
  });

  const backends = cpuBackend() ? (['js', 'cpu'] as const) : (['js'] as const);
  test.each(backends)('logits match the straightforward reference (%s, ≤ 1e-5)', async (backend) => {
    const ids = [5, 260, 99, 7, 263];
    const got = (await model.logits(ids, { backend })).data as Float32Array;
    expect(relError(got, referenceLogits(raw, ids, V))).toBeLessThanOrEqual(1e-5);
  });

  test('decoding with the KV cache gives the reference logits of the last token', async () => {
    const chunks: number[] = [];
    for await (const c of model.generate([5, 260, 99], { temperature: 0, maxTokens: 3 })) chunks.push(c.token);
    expect(chunks.length).toBeGreaterThan(0);
    // Greedy choice at each step is the argmax of the reference logits.
    let ids = [5, 260, 99];
    for (const tok of chunks) {
      const ref = referenceLogits(raw, ids, V).subarray((ids.length - 1) * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (ref[v]! > ref[best]!) best = v;
      expect(tok).toBe(best);
      ids = [...ids, tok];
    }
  });

  test('byte-level tokenizer: merges apply, text round-trips (including multi-byte characters)', () => {
    const t = model.tokenizer;
    const ids = t.encode('hello the world', { bos: false });
    // Lowest rank first: "h e" (rank 1) wins over "e l"-based merges, then "l l": he · ll · o.
    expect(ids.slice(0, 3)).toEqual([257, 259, 111]);
    expect(ids).toContain(258); // "Ġthe"
    for (const s of ['hello the world', 'naïve 日本語 🙂\n\ttabs  and  spaces', ' the']) expect(t.decode(t.encode(s))).toBe(s);
    expect(t.encode('hi')).toEqual([104, 105]); // GPT-2 adds no BOS
  });

  test('f16 safetensors (Conv1D transposed in 16-bit) stays within 1e-2 of the reference', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'sparsenn-gpt2-f16-'));
    try {
      const tensors: Record<string, Tensor> = {};
      for (const [n, t] of Object.entries(raw)) tensors[n] = new Tensor(t.data, t.shape).to('f16');
      await writeSafetensors(join(d2, 'model.safetensors'), tensors);
      for (const f of ['tokenizer.json', 'config.json']) writeFileSync(join(d2, f), readFileSync(join(dir, f)));
      const m = await loadModel(d2);
      expect(m.config.weightDType).toBe('f16');
      const ids = [5, 260, 99, 7];
      expect(relError((await m.logits(ids)).data as Float32Array, referenceLogits(raw, ids, V))).toBeLessThanOrEqual(1e-2);
    } finally {
      rmSync(d2, { recursive: true, force: true });
    }
  });

  test('positions beyond n_positions are refused', async () => {
    await expect(model.logits(new Array(P + 1).fill(5))).rejects.toMatchObject({ code: 'ERR_ARG' });
  });
});

test('inline case-insensitive groups of Llama 3 / Qwen2 pre-tokenizer patterns are rewritten for JavaScript', () => {
  const qwen2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const rx = new RegExp(inlineCaseInsensitive(qwen2), 'gu');
  expect("I'LL go, she's 42 km\n\nok".match(rx)).toEqual(['I', "'LL", ' go', ',', ' she', "'s", ' ', '4', '2', ' km', '\n\n', 'ok']);
  expect(inlineCaseInsensitive('a(?i:x[a-z]\\d)b')).toBe('a(?:[xX][a-z]\\d)b');
});
