/**
 * llama2.c checkpoint + tokenizer → Hugging Face folder (config.json, model.safetensors,
 * tokenizer.json), so the safetensors path can be exercised with a real model.
 *
 * RoPE layout: llama2.c rotates interleaved pairs (0,1),(2,3)… of each head; Hugging Face
 * rotates (i, i + d/2). Permuting the rows of wq and wk inside each head — row 2i+j goes to
 * j·d/2 + i, as HF's own conversion script does — makes rotate-half compute the same
 * rotation; q·k is unchanged because q and k get the same permutation.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkDType, type DType } from '../dtype';
import { SparsennError } from '../errors';
import { Llama2cTokenizer } from '../generate/llama2c_tokenizer';
import { checkOptions } from '../options';
import { Tensor } from '../tensor';
import { readLlama2c } from './llama2c';
import { modelFileError } from './model_file';
import { writeSafetensors } from './safetensors';

export interface ConvertOptions {
  /** dtype of the written weights (default f32). */
  dtype?: DType;
}

/** Reorders each head's rows from interleaved-pair to half-split RoPE layout. */
export function permuteRopeRows(w: Float32Array, heads: number, headDim: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < 2; j++) {
        const src = (h * headDim + 2 * i + j) * cols;
        const dst = (h * headDim + j * half + i) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
  return out;
}

/** tokenizer.json for a llama2.c vocabulary: sentencepiece-style BPE with byte fallback. */
export function llama2cTokenizerJson(tok: Llama2cTokenizer, file: string): Record<string, unknown> {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const vocab: Record<string, number> = {};
  const names: string[] = [];
  tok.pieces.forEach((p, id) => {
    let piece: string;
    if (id === 0) piece = '<unk>';
    else if (id === tok.bosId) piece = '<s>';
    else if (id === tok.eosId) piece = '</s>';
    else {
      try {
        piece = utf8.decode(p).replace(/ /g, '▁');
      } catch {
        throw modelFileError(file, `token ${id} is not valid UTF-8, cannot be written to tokenizer.json`);
      }
    }
    names.push(piece);
    if (!(piece in vocab)) vocab[piece] = id;
    else throw modelFileError(file, `token ${id} duplicates token ${vocab[piece]} (${JSON.stringify(piece)})`);
  });
  // Merges ranked by the merged piece's score, highest first: BPE by rank then reproduces
  // llama2.c's "merge the best-scoring pair" (what HF's sentencepiece converter does too).
  const merges: { a: string; b: string; score: number; id: number }[] = [];
  names.forEach((piece, id) => {
    if (id < 3 || /^<0x[0-9A-F]{2}>$/.test(piece)) return;
    const chars = Array.from(piece);
    for (let k = 1; k < chars.length; k++) {
      const a = chars.slice(0, k).join('');
      const b = chars.slice(k).join('');
      if (a in vocab && b in vocab) merges.push({ a, b, score: tok.scores[id]!, id });
    }
  });
  merges.sort((x, y) => y.score - x.score || x.id - y.id);
  return {
    version: '1.0',
    added_tokens: [
      { id: 0, content: '<unk>', special: true },
      { id: tok.bosId, content: '<s>', special: true },
      { id: tok.eosId, content: '</s>', special: true },
    ],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [tok.bosId], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: { type: 'BPE', unk_token: '<unk>', byte_fallback: true, fuse_unk: true, vocab, merges: merges.map((m) => [m.a, m.b]) },
  };
}

export async function convertLlama2cToSafetensors(binPath: string, tokPath: string, outDir: string, opts?: ConvertOptions): Promise<void> {
  const o = checkOptions<ConvertOptions>(opts, ['dtype'], 'convertLlama2cToSafetensors');
  const dtype = checkDType(o.dtype ?? 'f32');
  if (typeof outDir !== 'string' || outDir === '') throw new SparsennError('ERR_ARG', 'convert: outDir must be a path');
  const w = await readLlama2c(binPath);
  const h = w.header;
  let tokBytes: Uint8Array;
  try {
    tokBytes = await readFile(tokPath);
  } catch (e) {
    throw new SparsennError('ERR_MODEL_FILE', `${tokPath}: cannot read (${(e as Error).message})`, { cause: e });
  }
  const tok = Llama2cTokenizer.parse(tokBytes, h.vocabSize, tokPath);
  const hd = h.dim / h.heads;
  const kvDim = h.kvHeads * hd;
  const t = (a: Float32Array, shape: number[], narrow = true) => new Tensor(a, shape).to(narrow ? dtype : 'f32');
  const tensors: Record<string, Tensor> = { 'model.embed_tokens.weight': t(w.embedding, [h.vocabSize, h.dim]) };
  w.layers.forEach((l, i) => {
    const p = `model.layers.${i}.`;
    tensors[p + 'input_layernorm.weight'] = t(l.attnNorm, [h.dim], false);
    tensors[p + 'self_attn.q_proj.weight'] = t(permuteRopeRows(l.wq, h.heads, hd, h.dim), [h.dim, h.dim]);
    tensors[p + 'self_attn.k_proj.weight'] = t(permuteRopeRows(l.wk, h.kvHeads, hd, h.dim), [kvDim, h.dim]);
    tensors[p + 'self_attn.v_proj.weight'] = t(l.wv, [kvDim, h.dim]);
    tensors[p + 'self_attn.o_proj.weight'] = t(l.wo, [h.dim, h.dim]);
    tensors[p + 'post_attention_layernorm.weight'] = t(l.ffnNorm, [h.dim], false);
    tensors[p + 'mlp.gate_proj.weight'] = t(l.w1, [h.hiddenDim, h.dim]);
    tensors[p + 'mlp.down_proj.weight'] = t(l.w2, [h.dim, h.hiddenDim]);
    tensors[p + 'mlp.up_proj.weight'] = t(l.w3, [h.hiddenDim, h.dim]);
  });
  tensors['model.norm.weight'] = t(w.finalNorm, [h.dim], false);
  if (w.classifier) tensors['lm_head.weight'] = t(w.classifier, [h.vocabSize, h.dim]);
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: h.dim,
    intermediate_size: h.hiddenDim,
    num_hidden_layers: h.layers,
    num_attention_heads: h.heads,
    num_key_value_heads: h.kvHeads,
    vocab_size: h.vocabSize,
    max_position_embeddings: h.seqLen,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    hidden_act: 'silu',
    tie_word_embeddings: !w.classifier,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: { f32: 'float32', bf16: 'bfloat16', f16: 'float16' }[dtype],
  };
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'config.json'), JSON.stringify(config, null, 2));
  await writeFile(join(outDir, 'tokenizer.json'), JSON.stringify(llama2cTokenizerJson(tok, tokPath)));
  await writeSafetensors(join(outDir, 'model.safetensors'), tensors, { format: 'pt' });
}
