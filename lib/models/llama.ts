/**
 * The Llama architecture (Llama 2/3, Mistral, Qwen2, llama2.c's stories models):
 * pre-norm RMSNorm, rotary embeddings, grouped-query attention, SwiGLU MLP.
 *
 *   x = embed(ids)
 *   for each layer:  x += wo · attention(rope(wq · norm(x)), rope(wk · norm(x)), wv · norm(x))
 *                    x += w2 · (silu(w1 · norm(x)) ⊙ (w3 · norm(x)))
 *   logits = head · norm(x)
 *
 * Every heavy multiply is a Linear → matmulAsync, so it runs off the main thread and
 * accepts dense or sparse weights.
 */
import { KvCache } from '../generate/kv_cache';
import { swiglu } from '../nn/activations';
import { attendSpans } from '../nn/attention';
import type { Linear } from '../nn/linear';
import { rmsnorm } from '../nn/rmsnorm';
import { applyRope, rotateRows } from '../nn/rope';
import { Tensor } from '../tensor';
import { embedRow, evictForPolicy, gatherRows, logitRows, prepareSegments, spansOf, throwIfAborted } from './forward_utils';
import type { ForwardOptions, ModelConfig, Network, Segment, StageTimings } from './types';

export interface LlamaLayer {
  attnNorm: Float32Array;
  wq: Linear;
  wk: Linear;
  wv: Linear;
  wo: Linear;
  ffnNorm: Float32Array;
  /** gate_proj */
  w1: Linear;
  /** down_proj */
  w2: Linear;
  /** up_proj */
  w3: Linear;
}

export interface LlamaWeights {
  embedding: Tensor;
  layers: LlamaLayer[];
  finalNorm: Float32Array;
  head: Linear;
}

export class LlamaNetwork implements Network {
  constructor(
    readonly config: ModelConfig,
    readonly weights: LlamaWeights,
  ) {}

  newCache(initialCapacity?: number): KvCache {
    const c = this.config;
    return new KvCache(c.layers, c.kvHeads, c.headDim, c.maxSeqLen, initialCapacity);
  }

  linears(): Map<string, Linear> {
    const m = new Map<string, Linear>();
    this.weights.layers.forEach((l, i) => {
      const p = `model.layers.${i}.`;
      m.set(p + 'self_attn.q_proj', l.wq);
      m.set(p + 'self_attn.k_proj', l.wk);
      m.set(p + 'self_attn.v_proj', l.wv);
      m.set(p + 'self_attn.o_proj', l.wo);
      m.set(p + 'mlp.gate_proj', l.w1);
      m.set(p + 'mlp.up_proj', l.w3);
      m.set(p + 'mlp.down_proj', l.w2);
    });
    m.set('lm_head', this.weights.head);
    return m;
  }

  async forward(segments: readonly Segment[], opts: ForwardOptions): Promise<Float32Array> {
    const c = this.config;
    const w = this.weights;
    const mm = { backend: opts.backend };
    const layout = c.ropeLayout === 'half' ? 'half' : 'interleaved';
    // Eviction moves the sinks forward to sit before the window: their keys are re-rotated.
    evictForPolicy(segments, opts.attention, (keys, offset, count, delta) => rotateRows(keys, offset, count, c.headDim, delta, c.ropeTheta, layout));
    const rows = prepareSegments(segments, c.maxSeqLen);
    const dim = c.dim;
    const kvDim = c.kvHeads * c.headDim;
    const shape = { heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim };

    // Stage clock: adds the time since the previous mark to a stage (only when timings are asked for).
    const tm = opts.timings;
    let t0 = tm ? performance.now() : 0;
    const mark = (stage: keyof StageTimings) => {
      if (!tm) return;
      const t = performance.now();
      tm[stage] += t - t0;
      t0 = t;
    };

    const x = new Float32Array(rows * dim);
    let r = 0;
    for (const s of segments) for (const id of s.ids) embedRow(w.embedding, id, x, r++ * dim);
    mark('embed');

    const xb = new Float32Array(rows * dim);
    const att = new Float32Array(rows * dim);
    for (let l = 0; l < c.layers; l++) {
      const layer = w.layers[l]!;
      rmsnorm(x, layer.attnNorm, c.normEps, xb);
      mark('norm');
      const xt = new Tensor(xb, [rows, dim]);
      const q = (await layer.wq.forwardAsync(xt, mm)).data as Float32Array;
      const k = (await layer.wk.forwardAsync(xt, mm)).data as Float32Array;
      const v = (await layer.wv.forwardAsync(xt, mm)).data as Float32Array;
      throwIfAborted(opts.signal);
      mark('qkv');

      // RoPE and cache writes for every new position first, then attention, so a
      // prompt's positions see each other (causality comes from slot bounds). A token's RoPE
      // position is its cache slot plus the tokens evicted before it (0 unless the policy evicts).
      r = 0;
      for (const s of segments) {
        for (let i = 0; i < s.ids.length; i++, r++) {
          const slot = s.cache.length + i;
          const pos = s.cache.positionOf(slot);
          applyRope(q, r * dim, c.heads, c.headDim, pos, c.ropeTheta, layout);
          applyRope(k, r * kvDim, c.kvHeads, c.headDim, pos, c.ropeTheta, layout);
          s.cache.write(l, slot, k, v, r * kvDim);
        }
      }
      mark('rope');
      await attendSpans(q, spansOf(segments), l, shape, att, opts.attention, opts.backend);
      mark('attention');
      const o = (await layer.wo.forwardAsync(new Tensor(att, [rows, dim]), mm)).data as Float32Array;
      for (let i = 0; i < x.length; i++) x[i]! += o[i]!;
      mark('out');

      rmsnorm(x, layer.ffnNorm, c.normEps, xb);
      mark('norm');
      const gate = (await layer.w1.forwardAsync(xt, mm)).data as Float32Array;
      const up = (await layer.w3.forwardAsync(xt, mm)).data as Float32Array;
      swiglu(gate, up);
      const down = (await layer.w2.forwardAsync(new Tensor(gate, [rows, c.hiddenDim]), mm)).data as Float32Array;
      for (let i = 0; i < x.length; i++) x[i]! += down[i]!;
      throwIfAborted(opts.signal);
      mark('mlp');
    }
    for (const s of segments) s.cache.length += s.ids.length;

    rmsnorm(x, w.finalNorm, c.normEps, xb);
    mark('norm');
    const last = gatherRows(xb, dim, logitRows(segments, opts.allLogits));
    const logits = (await w.head.forwardAsync(last, mm)).data as Float32Array;
    mark('head');
    return logits;
  }
}
