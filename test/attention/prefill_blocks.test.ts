/**
 * Streaming and MoA prefill as one block-sparse kernel call (`prefill: 'blocks'`): every prompt row reads
 * exactly the whole 64-token blocks the plan promises (checked row by row against the decode
 * kernel over that token set), which cover the row's own sinks + window; a window covering the
 * prompt equals dense; on stories260K the perplexity stays close to the exact per-row prefill.
 */
import { createAttentionPolicy } from '../../lib/attention/create';
import { MixedPolicy } from '../../lib/attention/mixed';
import { MoaPolicy } from '../../lib/attention/moa';
import { attentionDecode } from '../../lib/attention/ops';
import { StreamingPolicy, STREAMING_PREFILL_BLOCK } from '../../lib/attention/streaming';
import type { KvSelection } from '../../lib/attention/contract';
import { FullPolicy } from '../../lib/attention/full';
import { perplexity } from '../../lib/eval/perplexity';
import { KvCache } from '../../lib/generate/kv_cache';
import { attendSpans } from '../../lib/nn/attention';
import { kvViewOfCache } from '../../lib/attention/policy';
import { Tensor } from '../../lib/tensor';
import { EVALUATION_STORIES } from '../../bench/quality/texts';
import { relError } from '../helpers';
import { describeWithStories, loadStories } from '../models/stories';

const B = STREAMING_PREFILL_BLOCK;

/** The tokens row `pos` of a prefill starting at pos0 reads under the plan: sink blocks + local blocks up to itself. */
function blockRanges(pos: number, pos0: number, sinks: number, window: number): number[] {
  const qb = Math.floor((pos - pos0) / B);
  const firstDiag = Math.floor((pos0 + qb * B) / B);
  const firstLocal = Math.max(0, firstDiag - Math.ceil((window - 1) / B));
  const sinkEnd = Math.min(Math.ceil(sinks / B) * B, firstLocal * B);
  return sinkEnd > 0 ? [0, sinkEnd, firstLocal * B, pos + 1] : [firstLocal * B, pos + 1];
}

describe("streaming prefill: 'blocks'", () => {
  const heads = 6;
  const kvHeads = 2;
  const D = 16;
  test.each([
    [300, 0, 4, 100],
    [217, 45, 3, 70],
    [130, 400, 1, 64],
    [260, 3, 70, 129],
  ])('T %i at pos0 %i, sinks %i, window %i: each row = decode over its blocks, a superset of its selection', async (T, pos0, sinks, window) => {
    const cache = new KvCache(1, kvHeads, D, 4096, pos0 + T);
    cache.fillSynthetic(pos0 + T, T + pos0);
    cache.length = pos0; // the prompt rows [pos0, pos0 + T) are in the cache, as the model writes them before attention
    const q = Tensor.random([T * heads * D], 11).data as Float32Array;
    const out = new Float32Array(T * heads * D);
    const policy = new StreamingPolicy({ sinks, window, prefill: 'blocks' });
    await attendSpans(q, [{ cache, pos0, row: 0, count: T }], 0, { heads, kvHeads, headDim: D }, out, policy, 'cpu');
    const kv = kvViewOfCache(cache, 0, pos0 + T);
    for (let r = 0; r < T; r++) {
      const pos = pos0 + r;
      const ranges = blockRanges(pos, pos0, sinks, window);
      // Superset of the exact selection: the window's first token and every sink are inside.
      const inside = (t: number) => (ranges.length === 4 && t < ranges[1]!) || (t >= ranges[ranges.length - 2]! && t <= pos);
      expect(inside(Math.max(0, pos - window + 1))).toBe(true);
      for (let t = 0; t < Math.min(sinks, pos + 1); t++) expect(inside(t)).toBe(true);
      const selection: KvSelection = {
        kind: 'ranges',
        offsets: Uint32Array.from({ length: kvHeads + 1 }, (_, h) => (h * ranges.length) / 2),
        items: Uint32Array.from(Array.from({ length: kvHeads }, () => ranges).flat()),
      };
      const want = new Float32Array(heads * D);
      attentionDecode({ q: q.subarray(r * heads * D, (r + 1) * heads * D), heads, kv: { ...kv, length: pos + 1 }, selection, scale: 1 / Math.sqrt(D), out: want }, { backend: 'js' });
      expect(relError(out.subarray(r * heads * D, (r + 1) * heads * D), want)).toBeLessThan(1e-5);
    }
  });

  test('a window covering the prompt equals dense; rows is the default; bad values are refused', async () => {
    const T = 300; // 5 blocks: a window of 20 skips blocks 1-2 for the last query block
    const cache = new KvCache(1, kvHeads, D, 4096, T);
    cache.fillSynthetic(T, 5);
    cache.length = 0;
    const q = Tensor.random([T * heads * D], 12).data as Float32Array;
    const run = async (policy: StreamingPolicy | FullPolicy) => {
      const out = new Float32Array(T * heads * D);
      await attendSpans(q, [{ cache, pos0: 0, row: 0, count: T }], 0, { heads, kvHeads, headDim: D }, out, policy, 'cpu');
      return out;
    };
    const dense = await run(new FullPolicy());
    expect(relError(await run(new StreamingPolicy({ sinks: 4, window: T, prefill: 'blocks' })), dense)).toBeLessThan(1e-5);
    expect(relError(await run(new StreamingPolicy({ sinks: 1, window: 20, prefill: 'blocks' })), dense)).toBeGreaterThan(1e-3);
    expect(new StreamingPolicy({ window: 8 }).prefillPattern(0, 100)).toBeNull();
    expect(() => createAttentionPolicy({ policy: 'streaming', window: 8, prefill: 'tiles' } as never)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    // A mixed policy prefills a layer as that layer's policy does, unless heads of the layer differ.
    const blocks = new StreamingPolicy({ window: 8, prefill: 'blocks' });
    const mixed = new MixedPolicy({ default: new FullPolicy(), layers: { 1: blocks }, heads: { '2:0': blocks } });
    expect(mixed.prefillPattern(0, 100, 0, 4, 2)).toBeNull();
    expect(mixed.prefillPattern(1, 100, 0, 4, 2)).not.toBeNull();
    expect(mixed.prefillPattern(2, 100, 0, 4, 2)).toBeNull();
  });
});

describe("MoA prefill: 'blocks' (per-head elastic spans)", () => {
  test.each([
    [300, 0],
    [211, 37],
  ])('T %i at pos0 %i: each row = decode over its heads\' blocks, a superset of each head\'s span', async (T, pos0) => {
    const heads = 6;
    const kvHeads = 3;
    const D = 16;
    const spans = [[{ alpha: 20, beta: 0.1 }, { alpha: 90, beta: 0 }]]; // KV head 2 has no span: reads everything
    const sinks = 5;
    const policy = new MoaPolicy({ spans, sinks, prefill: 'blocks' });
    const cache = new KvCache(1, kvHeads, D, 4096, pos0 + T);
    cache.fillSynthetic(pos0 + T, 9);
    cache.length = pos0;
    const q = Tensor.random([T * heads * D], 13).data as Float32Array;
    const out = new Float32Array(T * heads * D);
    await attendSpans(q, [{ cache, pos0, row: 0, count: T }], 0, { heads, kvHeads, headDim: D }, out, policy, 'cpu');
    const kv = kvViewOfCache(cache, 0, pos0 + T);
    const exact = (h: number, pos: number): number[] => {
      const s = spans[0]![h];
      if (!s) return [0, pos + 1];
      const sel = policy.selectHead({ layer: 0, kvHead: h, pos, queries: new Float32Array(2 * D), kv });
      return sel.kind === 'ranges' ? [...sel.ranges] : [0, pos + 1];
    };
    const uncovered: string[] = [];
    const exactRanges = Array.from({ length: kvHeads }, (_, h) => Array.from({ length: T }, (_, r) => exact(h, pos0 + r)));
    for (let r = 0; r < T; r++) {
      const pos = pos0 + r;
      const qb = Math.floor(r / B);
      const perHead = Array.from({ length: kvHeads }, (_, h) => {
        // The earliest exact window start over the query block's rows, rounded down to a block.
        let start = Infinity;
        for (let i = qb * B; i < Math.min(T, (qb + 1) * B); i++) {
          const e = exactRanges[h]![i]!;
          start = Math.min(start, e.length === 2 ? e[0]! : e[2]!);
        }
        const first = Math.floor(start / B) * B;
        const sinkEnd = Math.min(Math.ceil(sinks / B) * B, first);
        const ranges = sinkEnd > 0 ? [0, sinkEnd, first, pos + 1] : [first, pos + 1];
        // Superset: every range of the row's exact selection lies inside.
        const e = exactRanges[h]![r]!;
        const covered = (t: number) => (ranges.length === 4 && t < ranges[1]!) || (t >= ranges[ranges.length - 2]! && t <= pos);
        for (let i = 0; i < e.length; i += 2) for (let t = e[i]!; t < e[i + 1]!; t++) if (!covered(t)) uncovered.push(`head ${h} row ${pos} key ${t}`);
        return ranges;
      });
      const offsets = new Uint32Array(kvHeads + 1);
      perHead.forEach((x, h) => (offsets[h + 1] = offsets[h]! + x.length / 2));
      const selection: KvSelection = { kind: 'ranges', offsets, items: Uint32Array.from(perHead.flat()) };
      const want = new Float32Array(heads * D);
      attentionDecode({ q: q.subarray(r * heads * D, (r + 1) * heads * D), heads, kv: { ...kv, length: pos + 1 }, selection, scale: 1 / Math.sqrt(D), out: want }, { backend: 'js' });
      expect(relError(out.subarray(r * heads * D, (r + 1) * heads * D), want)).toBeLessThan(1e-5);
    }
    expect(uncovered.slice(0, 5)).toEqual([]);
    expect(() => createAttentionPolicy({ policy: 'moa', spans, prefill: 'tiles' } as never)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(new MoaPolicy({ spans }).prefillPattern(0, 100, 0, heads, kvHeads)).toBeNull();
  });
});

describeWithStories("streaming prefill 'blocks' on stories260K", () => {
  test('perplexity close to the exact per-row prefill; prefill time measured', async () => {
    const m = await loadStories();
    const ids = m.tokenizer.encode(EVALUATION_STORIES.join(' ')).slice(0, 512);
    const time = async (attention?: object) => {
      const t = performance.now();
      const r = await perplexity(m, ids, { attention: attention as never, backend: 'cpu' });
      return { ppl: r.perplexity, ms: performance.now() - t };
    };
    const dense = await time();
    const rows = await time({ policy: 'streaming', sinks: 4, window: 124 });
    const blocks = await time({ policy: 'streaming', sinks: 4, window: 124, prefill: 'blocks' });
    console.log(
      `stories260K perplexity over ${ids.length - 1} tokens (one 512-token prefill), streaming 4+124: dense ${dense.ppl.toFixed(4)} (${dense.ms.toFixed(0)} ms), ` +
        `per-row prefill ${rows.ppl.toFixed(4)} (${rows.ms.toFixed(0)} ms), blocks prefill ${blocks.ppl.toFixed(4)} (${blocks.ms.toFixed(0)} ms)`,
    );
    expect(Math.abs(Math.log(blocks.ppl) - Math.log(rows.ppl))).toBeLessThan(0.05);
    expect(blocks.ppl).not.toBe(rows.ppl);
    // MoA with elastic spans of a quarter of the length per head.
    const spans = Array.from({ length: m.config.layers }, () => Array.from({ length: m.config.kvHeads }, (_, h) => ({ alpha: 8 * h, beta: 0.25 })));
    const moaRows = await time({ policy: 'moa', spans });
    const moaBlocks = await time({ policy: 'moa', spans, prefill: 'blocks' });
    console.log(`stories260K MoA spans 8h + 0.25·length: per-row prefill ${moaRows.ppl.toFixed(4)} (${moaRows.ms.toFixed(0)} ms), blocks ${moaBlocks.ppl.toFixed(4)} (${moaBlocks.ms.toFixed(0)} ms)`);
    expect(Math.abs(Math.log(moaBlocks.ppl) - Math.log(moaRows.ppl))).toBeLessThan(0.05);
  });
});
