/**
 * StreamingLLM with eviction: the cache keeps sinks + window tokens (bounded memory), attention
 * scores equal the paper's positions within the cache (pre-RoPE keys rotated by their slot),
 * generation runs past the context length, batching keeps one cache per sequence, and on
 * stories260K the token-by-token perplexity stays close to the non-evicting policy and to dense.
 */
import { createAttentionPolicy } from '../../lib/attention/create';
import { MixedPolicy } from '../../lib/attention/mixed';
import { FullPolicy } from '../../lib/attention/full';
import { StreamingPolicy, streamingEviction } from '../../lib/attention/streaming';
import { KvCache } from '../../lib/generate/kv_cache';
import { Gpt2Network } from '../../lib/models/gpt2';
import { syntheticModel } from '../../lib/models/synthetic';
import type { ModelConfig } from '../../lib/models/types';
import { Linear } from '../../lib/nn/linear';
import { Tensor } from '../../lib/tensor';
import { applyRope, rotateRows } from '../../lib/nn/rope';
import { streamingNll } from '../../bench/quality/streaming-quality';
import { EVALUATION_STORIES } from '../../bench/quality/texts';
import { relError, rng } from '../helpers';
import { describeWithStories, loadStories } from '../models/stories';

describe('evictMiddle with RoPE re-rotation', () => {
  test.each(['interleaved', 'half'] as const)('scores equal keys cached before RoPE and rotated by their cache slot (%s)', (layout) => {
    const layers = 2;
    const kvHeads = 3;
    const D = 8;
    const theta = 10000;
    const cache = new KvCache(layers, kvHeads, D, 4096, 8);
    const r = rng(7);
    const raw: Float32Array[] = []; // pre-RoPE keys of every token ever written, [kvHeads · D] each
    const sinks = 3;
    const window = 11;
    const ev = streamingEviction(sinks, window, 1);
    const rotate = (keys: Float32Array, off: number, count: number, delta: number) => rotateRows(keys, off, count, D, delta, theta, layout);
    const kept: number[] = []; // which raw token sits in each slot
    for (let step = 0; step < 60; step++) {
      const p = ev.plan(cache.length, 1);
      if (p) {
        cache.evictMiddle(p.sinks, p.from, rotate);
        kept.splice(p.sinks, p.from - p.sinks);
      }
      const slot = cache.length;
      cache.reserve(slot + 1);
      const k = Float32Array.from({ length: kvHeads * D }, () => r() * 2 - 1 || 0.5);
      const v = Float32Array.from({ length: kvHeads * D }, () => r() * 2 - 1 || 0.5);
      raw.push(Float32Array.from(k));
      applyRope(k, 0, kvHeads, D, cache.positionOf(slot), theta, layout); // as the model does
      for (let l = 0; l < layers; l++) cache.write(l, slot, k, v, 0);
      cache.length = slot + 1;
      kept.push(step);
      expect(cache.length).toBeLessThanOrEqual(sinks + window);
    }
    expect(cache.length).toBe(sinks + window);
    expect(cache.evicted).toBe(60 - sinks - window);
    expect(kept.slice(0, sinks)).toEqual([0, 1, 2]);
    expect(kept[kept.length - 1]).toBe(59);
    // The newest query (slot L − 1) against every cached key: q·k as the model computes it
    // (both at slot + evicted) equals the paper's (query at slot L − 1, key i rotated by slot i).
    const last = cache.length - 1;
    const q = Float32Array.from({ length: D }, () => r() * 2 - 1 || 0.5);
    const qModel = Float32Array.from(q);
    applyRope(qModel, 0, 1, D, cache.positionOf(last), theta, layout);
    const qPaper = Float32Array.from(q);
    applyRope(qPaper, 0, 1, D, last, theta, layout);
    for (let l = 0; l < layers; l++)
      for (let h = 0; h < kvHeads; h++) {
        const got = new Float64Array(cache.length);
        const want = new Float64Array(cache.length);
        for (let slot = 0; slot < cache.length; slot++) {
          const key = Float32Array.from(raw[kept[slot]!]!.subarray(h * D, (h + 1) * D));
          applyRope(key, 0, 1, D, slot, theta, layout);
          const o = cache.offset(h, slot);
          for (let d = 0; d < D; d++) {
            got[slot]! += qModel[d]! * cache.keys[l]![o + d]!;
            want[slot]! += qPaper[d]! * key[d]!;
          }
        }
        expect(relError(got, want)).toBeLessThan(1e-5);
      }
  });

  test('bad ranges are refused', () => {
    const c = new KvCache(1, 1, 2, 10, 4);
    c.length = 5;
    expect(() => c.evictMiddle(3, 2)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => c.evictMiddle(1, 6)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(c.evictMiddle(2, 2)).toBe(0);
    c.evictMiddle(1, 3, () => {});
    expect(c.length).toBe(3);
    expect(c.positionOf(2)).toBe(4);
    expect(() => c.evictMiddle(2, 3, () => {})).toThrow(expect.objectContaining({ code: 'ERR_ARG' })); // another sinks count
  });
});

describe('streaming eviction plan and options', () => {
  test('evicts to sinks + window − 1 before a step, every evictBatch steps', () => {
    const one = streamingEviction(4, 10, 1);
    expect(one.plan(13, 1)).toBeNull();
    expect(one.plan(14, 1)).toEqual({ sinks: 4, from: 5 });
    expect(one.plan(100, 1)).toEqual({ sinks: 4, from: 91 });
    expect(one.plan(0, 300)).toBeNull(); // a long prompt is prefilled whole, evicted before the next step
    expect(one.bound(1)).toBe(14);
    expect(one.bound(300)).toBe(313);
    const eight = streamingEviction(4, 10, 8);
    expect(eight.plan(20, 1)).toBeNull();
    expect(eight.plan(21, 1)).toEqual({ sinks: 4, from: 12 });
  });

  test('spec options are checked; a map cannot hold an evicting policy', () => {
    expect(createAttentionPolicy({ policy: 'streaming', sinks: 2, window: 8, evict: true }).eviction).toBeDefined();
    expect(createAttentionPolicy({ policy: 'streaming', sinks: 2, window: 8 }).eviction).toBeUndefined();
    for (const bad of [
      { policy: 'streaming', window: 8, evictBatch: 4 },
      { policy: 'streaming', window: 8, evict: 'yes' },
      { policy: 'streaming', window: 8, evict: true, evictBatch: 0 },
      { default: { policy: 'streaming', window: 8, evict: true } },
    ])
      expect(() => createAttentionPolicy(bad as never)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => new MixedPolicy({ default: new FullPolicy(), layers: { 1: new StreamingPolicy({ evict: true }) } })).toThrow(
      expect.objectContaining({ code: 'ERR_ARG' }),
    );
  });
});

describe('bounded memory in the model (synthetic model, context 64)', () => {
  const model = syntheticModel({ dim: 64, layers: 2, heads: 4, kvHeads: 2, maxSeqLen: 64, seed: 3 });
  const attention = { policy: 'streaming', sinks: 4, window: 20, evict: true } as const;

  test('cache length and bytes stop growing over a generation far past the context', async () => {
    const net = model.network;
    const policy = createAttentionPolicy(attention);
    const cache = net.newCache(8);
    let logits = await net.forward([{ ids: [1, 72, 101, 108, 108, 111], cache }], { backend: 'cpu', attention: policy, allLogits: false });
    const lengths: number[] = [];
    const bytes: number[] = [];
    for (let step = 0; step < 200; step++) {
      let next = 0;
      for (let v = 1; v < logits.length; v++) if (logits[v]! > logits[next]!) next = v;
      logits = await net.forward([{ ids: [next], cache }], { backend: 'cpu', attention: policy, allLogits: false });
      lengths.push(cache.length);
      bytes.push(cache.bytes);
      for (const x of logits) expect(Number.isFinite(x)).toBe(true);
    }
    // 206 tokens through a 64-token context: the cache stays at sinks + window.
    expect(Math.max(...lengths)).toBe(24);
    expect(lengths.slice(20).every((l) => l === 24)).toBe(true);
    expect(new Set(bytes.slice(20)).size).toBe(1);
    expect(cache.capacity).toBeLessThanOrEqual(32);
    expect(cache.evicted).toBe(206 - 24);
  });

  test('generate runs past the context length with eviction and stops at it without', async () => {
    let n = 0;
    for await (const c of model.generate('Hi', { maxTokens: 150, temperature: 0, attention, stop: [] })) if (c.token >= 0) n++;
    // The byte model may emit its end token; with random weights greedy decoding does not here.
    expect(n).toBe(150);
    let dense = 0;
    for await (const c of model.generate('Hi', { maxTokens: 150, temperature: 0 })) if (c.token >= 0) dense++;
    expect(dense).toBeLessThan(64);
  });

  test('batched sequences each evict their own cache: same tokens as decoded alone', async () => {
    const prompts = ['Once upon a time', 'The cat sat on the mat and looked at'];
    const alone: number[][] = [];
    for (const p of prompts) {
      const ids: number[] = [];
      for await (const c of model.generate(p, { maxTokens: 90, temperature: 0, attention })) ids.push(c.token);
      alone.push(ids);
    }
    const together: number[][] = [[], []];
    for await (const c of model.generateBatch(prompts, { maxTokens: 90, temperature: 0, attention })) together[c.index]!.push(c.token);
    expect(together).toEqual(alone);
    expect(alone[0]!.length).toBe(90);
  });
});

describe('GPT-2 (learned positions) with eviction', () => {
  test('the cache stays bounded and decoding runs past n_positions (new tokens take the next slot)', async () => {
    const D = 32;
    const P = 40;
    const V = 50;
    let seed = 1;
    const lin = (n: number, k: number) => new Linear(Tensor.random([n, k], seed++, 1 / Math.sqrt(k)), Tensor.random([n], seed++, 0.1).data as Float32Array);
    const norm = () => ({ weight: new Float32Array(D).fill(1), bias: new Float32Array(D) });
    const wte = Tensor.random([V, D], seed++, 1);
    const config: ModelConfig = {
      architecture: 'gpt2', source: 'safetensors', dim: D, hiddenDim: 4 * D, layers: 2, heads: 4, kvHeads: 4, headDim: D / 4,
      vocabSize: V, maxSeqLen: P, normEps: 1e-5, ropeTheta: 10000, ropeLayout: 'none', tiedEmbeddings: true, bosId: null, eosId: null, weightDType: 'f32',
    };
    const layers = [0, 1].map(() => ({ ln1: norm(), attn: lin(3 * D, D), proj: lin(D, D), ln2: norm(), fc: lin(4 * D, D), fcProj: lin(D, 4 * D) }));
    const net = new Gpt2Network(config, { wte, wpe: Tensor.random([P, D], seed++, 0.5), layers, lnF: norm(), head: new Linear(wte) });
    const policy = createAttentionPolicy({ policy: 'streaming', sinks: 2, window: 14, evict: true });
    const cache = net.newCache(4);
    let logits = await net.forward([{ ids: [1, 2, 3], cache }], { backend: 'cpu', attention: policy, allLogits: false });
    for (let step = 0; step < 100; step++) {
      let next = 0;
      for (let v = 1; v < V; v++) if (logits[v]! > logits[next]!) next = v;
      logits = await net.forward([{ ids: [next], cache }], { backend: 'cpu', attention: policy, allLogits: false });
      expect(cache.length).toBeLessThanOrEqual(16);
      for (const x of logits) expect(Number.isFinite(x)).toBe(true);
    }
    expect(cache.length + cache.evicted).toBe(103);
  });
});

describeWithStories('StreamingLLM eviction on stories260K (context 512)', () => {
  test('token-by-token perplexity: evicting close to non-evicting and dense; runs past the context', async () => {
    const m = await loadStories();
    const all = m.tokenizer.encode(EVALUATION_STORIES.join(' '));
    const ids = all.slice(0, 512);
    const sinks = 4;
    const window = 124; // sinks + window = 1/4 of the context
    const dense = (await streamingNll(m, ids, undefined)).nll;
    const select = (await streamingNll(m, ids, createAttentionPolicy({ policy: 'streaming', sinks, window }))).nll;
    const evicting = await streamingNll(m, ids, createAttentionPolicy({ policy: 'streaming', sinks, window, evict: true }));
    const evict = evicting.nll;
    expect(evicting.peakCache).toBe(sinks + window);
    const evict16 = (await streamingNll(m, ids, createAttentionPolicy({ policy: 'streaming', sinks, window, evict: true, evictBatch: 16 }))).nll;
    const noSinks = (await streamingNll(m, ids, createAttentionPolicy({ policy: 'streaming', sinks: 0, window: sinks + window, evict: true }))).nll;
    // The whole text (past the 512-token context), which only the evicting policy can decode.
    const long = (await streamingNll(m, all, createAttentionPolicy({ policy: 'streaming', sinks, window, evict: true }))).nll;
    const ppl = (x: number) => Math.exp(x).toFixed(3);
    console.log(
      `stories260K, ${ids.length - 1} tokens fed one by one, sinks ${sinks} + window ${window}: perplexity dense ${ppl(dense)}, ` +
        `streaming (select only) ${ppl(select)}, streaming evict ${ppl(evict)}, evict batch 16 ${ppl(evict16)}, ` +
        `evict without sinks (window ${sinks + window}) ${ppl(noSinks)}; evict over all ${all.length - 1} tokens ${ppl(long)}`,
    );
    expect(Math.abs(evict - select)).toBeLessThan(0.05);
    expect(Math.abs(evict - dense)).toBeLessThan(0.1);
    expect(Math.abs(evict16 - evict)).toBeLessThan(0.05);
    // The test can fail: the text is longer than sinks + window, so eviction did change what was read.
    expect(evict).not.toBe(dense);
    expect(Number.isFinite(long) && long < dense + 0.2).toBe(true);
  });
});
