/**
 * The GPT-2 architecture: learned positions, pre-norm LayerNorm, multi-head attention
 * from one fused c_attn projection, GELU (tanh) MLP, head tied to the token embedding.
 *
 *   x = wte(ids) + wpe(pos)
 *   for each layer:  x += c_proj · attention(split(c_attn · ln_1(x)))
 *                    x += mlp.c_proj · gelu(mlp.c_fc · ln_2(x))
 *   logits = wte · ln_f(x)
 *
 * GPT-2 checkpoints store Conv1D weights [in, out]; the loader transposes them to the
 * [out, in] layout every Linear here uses.
 */
import { KvCache } from '../generate/kv_cache';
import { geluTanh } from '../nn/activations';
import { attendSpans } from '../nn/attention';
import { layernorm } from '../nn/layernorm';
import type { Linear } from '../nn/linear';
import { Tensor } from '../tensor';
import { embedRow, evictForPolicy, gatherRows, logitRows, prepareSegments, spansOf, throwIfAborted } from './forward_utils';
import type { ForwardOptions, ModelConfig, Network, Segment } from './types';

export interface Norm {
  weight: Float32Array;
  bias: Float32Array;
}

export interface Gpt2Layer {
  ln1: Norm;
  /** Fused q, k, v projection: [3·dim, dim] with bias. */
  attn: Linear;
  proj: Linear;
  ln2: Norm;
  fc: Linear;
  fcProj: Linear;
}

export interface Gpt2Weights {
  wte: Tensor;
  wpe: Tensor;
  layers: Gpt2Layer[];
  lnF: Norm;
  head: Linear;
}

export class Gpt2Network implements Network {
  constructor(
    readonly config: ModelConfig,
    readonly weights: Gpt2Weights,
  ) {}

  newCache(initialCapacity?: number): KvCache {
    const c = this.config;
    return new KvCache(c.layers, c.heads, c.headDim, c.maxSeqLen, initialCapacity);
  }

  linears(): Map<string, Linear> {
    const m = new Map<string, Linear>();
    this.weights.layers.forEach((l, i) => {
      const p = `h.${i}.`;
      m.set(p + 'attn.c_attn', l.attn);
      m.set(p + 'attn.c_proj', l.proj);
      m.set(p + 'mlp.c_fc', l.fc);
      m.set(p + 'mlp.c_proj', l.fcProj);
    });
    m.set('lm_head', this.weights.head);
    return m;
  }

  async forward(segments: readonly Segment[], opts: ForwardOptions): Promise<Float32Array> {
    const c = this.config;
    const w = this.weights;
    const mm = { backend: opts.backend };
    // Learned positions live in the residual stream, so evicted-around keys cannot be re-positioned:
    // a bounded-memory policy only drops tokens here, and new tokens take the next cache slot's position.
    evictForPolicy(segments, opts.attention);
    const rows = prepareSegments(segments, c.maxSeqLen);
    const dim = c.dim;
    const shape = { heads: c.heads, kvHeads: c.heads, headDim: c.headDim };

    const x = new Float32Array(rows * dim);
    const pos = new Float32Array(dim);
    let r = 0;
    for (const s of segments) {
      for (let i = 0; i < s.ids.length; i++, r++) {
        embedRow(w.wte, s.ids[i]!, x, r * dim);
        embedRow(w.wpe, s.cache.length + i, pos, 0);
        for (let d = 0; d < dim; d++) x[r * dim + d]! += pos[d]!;
      }
    }

    const xb = new Float32Array(rows * dim);
    const q = new Float32Array(rows * dim);
    const k = new Float32Array(rows * dim);
    const v = new Float32Array(rows * dim);
    const att = new Float32Array(rows * dim);
    for (let l = 0; l < c.layers; l++) {
      const layer = w.layers[l]!;
      layernorm(x, layer.ln1.weight, layer.ln1.bias, c.normEps, xb);
      const qkv = (await layer.attn.forwardAsync(new Tensor(xb, [rows, dim]), mm)).data as Float32Array;
      throwIfAborted(opts.signal);
      for (let i = 0; i < rows; i++) {
        q.set(qkv.subarray(i * 3 * dim, i * 3 * dim + dim), i * dim);
        k.set(qkv.subarray(i * 3 * dim + dim, i * 3 * dim + 2 * dim), i * dim);
        v.set(qkv.subarray(i * 3 * dim + 2 * dim, (i + 1) * 3 * dim), i * dim);
      }
      r = 0;
      for (const s of segments) for (let i = 0; i < s.ids.length; i++, r++) s.cache.write(l, s.cache.length + i, k, v, r * dim);
      await attendSpans(q, spansOf(segments), l, shape, att, opts.attention, opts.backend);
      const o = (await layer.proj.forwardAsync(new Tensor(att, [rows, dim]), mm)).data as Float32Array;
      for (let i = 0; i < x.length; i++) x[i]! += o[i]!;

      layernorm(x, layer.ln2.weight, layer.ln2.bias, c.normEps, xb);
      const h = (await layer.fc.forwardAsync(new Tensor(xb, [rows, dim]), mm)).data as Float32Array;
      geluTanh(h);
      const m = (await layer.fcProj.forwardAsync(new Tensor(h, [rows, c.hiddenDim]), mm)).data as Float32Array;
      for (let i = 0; i < x.length; i++) x[i]! += m[i]!;
      throwIfAborted(opts.signal);
    }
    for (const s of segments) s.cache.length += s.ids.length;

    layernorm(x, w.lnF.weight, w.lnF.bias, c.normEps, xb);
    const last = gatherRows(xb, dim, logitRows(segments, opts.allLogits));
    return (await w.head.forwardAsync(last, mm)).data as Float32Array;
  }
}
