/**
 * saveModel: writes a model (dense or pruned) as a Hugging Face-style folder that loadModel
 * reads back: config.json (the architecture's HF config), tokenizer.json and
 * model.safetensors. Dense weights are ordinary tensors, in the model's dtype; sparse Linear
 * weights (CSR, N:M, BSR) are stored as their component arrays plus a metadata entry
 * (layout in sparse_safetensors.ts), so they load back into the same format, bit-identical.
 *
 * A folder with only dense weights is a plain HF checkpoint (transformers can read it).
 * Models loaded from llama2.c rotate interleaved RoPE pairs; HF's Llama rotates half-split
 * pairs, so q_proj / k_proj rows are reordered on the way out (permute_rows.ts): values are
 * unchanged, only their row order, and loadModel then computes the same rotation.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SparsennError } from '../errors';
import { isSparseMatrix } from '../formats/types';
import type { Linear, LinearWeight } from '../nn/linear';
import { InputSparseWeight } from '../ops/input_sparse';
import { checkOptions } from '../options';
import { Tensor } from '../tensor';
import { Gpt2Network, type Norm } from './gpt2';
import { LlamaNetwork } from './llama';
import { Model } from './model';
import { permuteRows, ropeHalfOrder } from './permute_rows';
import { writeSafetensors, type RawArray } from './safetensors';
import { SPARSE_LAYOUT_VERSION, SPARSE_VERSION_KEY, sparseWeightTensors } from './sparse_safetensors';
import { tokenizerJson } from './tokenizer_json';
import type { ModelConfig } from './types';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface SaveModelOptions {}

const TORCH_DTYPE = { f32: 'float32', bf16: 'bfloat16', f16: 'float16' } as const;

/** Collects tensors and sparse descriptions for one safetensors file. */
class TensorSet {
  readonly tensors: Record<string, Tensor | RawArray> = {};
  readonly metadata: Record<string, string> = { format: 'pt' };
  private sparse = 0;

  add(name: string, t: Tensor | RawArray): void {
    if (name in this.tensors) throw new SparsennError('ERR_ARG', `saveModel: tensor ${name} written twice`);
    this.tensors[name] = t;
  }

  vector(name: string, v: Float32Array): void {
    this.add(name, new Tensor(v, [v.length]));
  }

  /** A Linear weight in the [out, in] layout; `transposeDense` for GPT-2's Conv1D [in, out] tensors. */
  weight(name: string, w: LinearWeight, transposeDense = false): void {
    if (w instanceof InputSparseWeight) w = transpose(w.wt);
    if (w instanceof Tensor) return this.add(name, transposeDense ? transpose(w) : w);
    if (!isSparseMatrix(w)) throw new SparsennError('ERR_ARG', `saveModel: ${name} holds a weight that cannot be saved`);
    const { tensors, spec } = sparseWeightTensors(name, w);
    for (const [n, t] of Object.entries(tensors)) this.add(n, t);
    this.metadata[spec[0]] = spec[1];
    this.sparse++;
  }

  finish(): void {
    if (this.sparse > 0) this.metadata[SPARSE_VERSION_KEY] = SPARSE_LAYOUT_VERSION;
  }
}

function transpose(t: Tensor): Tensor {
  const [r, c] = t.shape as [number, number];
  const src = t.data;
  const dst = t.dtype === 'f32' ? new Float32Array(src.length) : new Uint16Array(src.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) dst[j * r + i] = src[i * c + j]!;
  return new Tensor(dst, [c, r], t.dtype);
}

function ids(c: ModelConfig): Record<string, number> {
  return { ...(c.bosId !== null ? { bos_token_id: c.bosId } : {}), ...(c.eosId !== null ? { eos_token_id: c.eosId } : {}) };
}

function saveLlama(net: LlamaNetwork, ts: TensorSet): Record<string, unknown> {
  const c = net.config;
  const w = net.weights;
  // llama2.c's interleaved RoPE pairs → HF's half-split rows (q and k get the same reordering).
  const qOrder = c.ropeLayout === 'interleaved' ? ropeHalfOrder(c.heads, c.headDim) : null;
  const kOrder = c.ropeLayout === 'interleaved' ? ropeHalfOrder(c.kvHeads, c.headDim) : null;
  const lin = (name: string, l: Linear, order: Int32Array | null = null) => {
    ts.weight(`${name}.weight`, order ? permuteRows(l.weight, order) : l.weight);
    if (l.bias) {
      const b = order ? Float32Array.from(order, (src) => l.bias![src]!) : l.bias;
      ts.vector(`${name}.bias`, b);
    }
  };
  let biased = false;
  ts.add('model.embed_tokens.weight', w.embedding);
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}.`;
    ts.vector(p + 'input_layernorm.weight', l.attnNorm);
    lin(p + 'self_attn.q_proj', l.wq, qOrder);
    lin(p + 'self_attn.k_proj', l.wk, kOrder);
    lin(p + 'self_attn.v_proj', l.wv);
    lin(p + 'self_attn.o_proj', l.wo);
    ts.vector(p + 'post_attention_layernorm.weight', l.ffnNorm);
    lin(p + 'mlp.gate_proj', l.w1);
    lin(p + 'mlp.up_proj', l.w3);
    lin(p + 'mlp.down_proj', l.w2);
    if (l.wo.bias || l.w1.bias || l.w2.bias || l.w3.bias) throw new SparsennError('ERR_ARG', 'saveModel: Llama o_proj / MLP biases are not supported');
    biased ||= !!(l.wq.bias || l.wk.bias || l.wv.bias);
  });
  ts.vector('model.norm.weight', w.finalNorm);
  // A head that still is the embedding stays tied; a replaced (e.g. pruned) head is written out.
  const tied = w.head.weight === w.embedding;
  if (!tied) lin('lm_head', w.head);
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.dim,
    intermediate_size: c.hiddenDim,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    head_dim: c.headDim,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxSeqLen,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    hidden_act: 'silu',
    attention_bias: biased,
    tie_word_embeddings: tied,
    ...ids(c),
    torch_dtype: TORCH_DTYPE[c.weightDType],
  };
}

function saveGpt2(net: Gpt2Network, ts: TensorSet): Record<string, unknown> {
  const c = net.config;
  const w = net.weights;
  if (w.head.weight !== w.wte) throw new SparsennError('ERR_ARG', "saveModel: GPT-2's head must stay tied to wte (a pruned head cannot be saved)");
  const pre = 'transformer.';
  const norm = (name: string, n: Norm) => {
    ts.vector(`${pre}${name}.weight`, n.weight);
    ts.vector(`${pre}${name}.bias`, n.bias);
  };
  const conv = (name: string, l: Linear) => {
    if (!l.bias) throw new SparsennError('ERR_ARG', `saveModel: GPT-2 layer ${name} has no bias`);
    ts.weight(`${pre}${name}.weight`, l.weight, true);
    ts.vector(`${pre}${name}.bias`, l.bias);
  };
  ts.add(`${pre}wte.weight`, w.wte);
  ts.add(`${pre}wpe.weight`, w.wpe);
  w.layers.forEach((l, i) => {
    const p = `h.${i}.`;
    norm(p + 'ln_1', l.ln1);
    conv(p + 'attn.c_attn', l.attn);
    conv(p + 'attn.c_proj', l.proj);
    norm(p + 'ln_2', l.ln2);
    conv(p + 'mlp.c_fc', l.fc);
    conv(p + 'mlp.c_proj', l.fcProj);
  });
  norm('ln_f', w.lnF);
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    n_embd: c.dim,
    n_layer: c.layers,
    n_head: c.heads,
    n_inner: c.hiddenDim,
    n_positions: c.maxSeqLen,
    vocab_size: c.vocabSize,
    layer_norm_epsilon: c.normEps,
    activation_function: 'gelu_new',
    ...ids(c),
    torch_dtype: TORCH_DTYPE[c.weightDType],
  };
}

/**
 * Writes `model` into folder `dir` (created if needed; existing config.json, tokenizer.json
 * and model.safetensors are overwritten). loadModel(dir) gives back the same architecture,
 * tokenizer, dense tensors and sparse formats.
 */
export async function saveModel(model: Model, dir: string, opts?: SaveModelOptions): Promise<void> {
  checkOptions<SaveModelOptions>(opts, [], 'saveModel');
  if (!(model instanceof Model)) throw new SparsennError('ERR_ARG', 'saveModel: model must be a loaded Model');
  if (typeof dir !== 'string' || dir === '') throw new SparsennError('ERR_ARG', 'saveModel: dir must be a folder path');
  const net = model.network;
  model.linears(); // throws when the model has been disposed
  const ts = new TensorSet();
  let config: Record<string, unknown>;
  if (net instanceof LlamaNetwork) config = saveLlama(net, ts);
  else if (net instanceof Gpt2Network) config = saveGpt2(net, ts);
  else throw new SparsennError('ERR_ARG', 'saveModel: only Llama-family and GPT-2 networks can be saved');
  ts.finish();
  const tokenizer = tokenizerJson(model.tokenizer);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    await writeSafetensors(join(dir, 'model.safetensors'), ts.tensors, ts.metadata);
  } catch (e) {
    throw new SparsennError('ERR_MODEL_FILE', `saveModel: cannot write ${dir} (${(e as Error).message})`, { cause: e });
  }
}
