/**
 * Hugging Face folders: config.json + model.safetensors (or shards listed in
 * model.safetensors.index.json) + tokenizer.json. Architectures: the Llama family
 * (llama, mistral, qwen2) and GPT-2. Every tensor's presence, dtype and shape is
 * checked against the config before it is used.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { DType } from '../dtype';
import { BpeTokenizer } from '../generate/bpe_tokenizer';
import type { Tokenizer } from '../generate/tokenizer';
import { Linear } from '../nn/linear';
import { Tensor } from '../tensor';
import { Gpt2Network, type Gpt2Layer, type Norm } from './gpt2';
import { LlamaNetwork, type LlamaLayer } from './llama';
import { modelFileError } from './model_file';
import { SafetensorsFile, type RawArray, type SafetensorsEntry } from './safetensors';
import { castSparse, readSparseWeight, type SparseSource } from './sparse_safetensors';
import type { ModelConfig, Network } from './types';

const MAX_JSON_BYTES = 64 * 1024 * 1024;

async function readJson(path: string): Promise<Record<string, unknown>> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw modelFileError(path, `cannot read (${(e as Error).message})`);
  }
  if (size > MAX_JSON_BYTES) throw modelFileError(path, `${size} bytes is too large for a JSON file here (limit ${MAX_JSON_BYTES})`);
  let v: unknown;
  try {
    v = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw modelFileError(path, `is not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw modelFileError(path, 'must hold a JSON object');
  return v as Record<string, unknown>;
}

/** The safetensors shards of a folder, looked up by tensor name (sparse weights: see sparse_safetensors.ts). */
class WeightSource implements SparseSource {
  private readonly meta = new Map<string, string>();

  private constructor(
    private readonly byName: Map<string, SafetensorsFile>,
    private readonly files: SafetensorsFile[],
  ) {
    for (const f of files) for (const [k, v] of f.metadata) if (!this.meta.has(k)) this.meta.set(k, v);
  }

  get path(): string {
    return this.files[0]?.path ?? '';
  }

  metadata(key: string): string | undefined {
    return this.meta.get(key);
  }

  entry(name: string): SafetensorsEntry | undefined {
    return this.byName.get(name)?.entries.get(name);
  }

  readRaw(name: string): Promise<RawArray> {
    const f = this.byName.get(name);
    if (!f) throw modelFileError(this.path, `tensor ${JSON.stringify(name)} is missing`);
    return f.readRaw(name);
  }

  static async open(dir: string): Promise<WeightSource> {
    const single = join(dir, 'model.safetensors');
    const index = join(dir, 'model.safetensors.index.json');
    const exists = (p: string) => stat(p).then(() => true, () => false);
    const names: string[] = [];
    if (await exists(single)) names.push('model.safetensors');
    else if (await exists(index)) {
      const map = (await readJson(index)).weight_map;
      if (typeof map !== 'object' || map === null) throw modelFileError(index, 'weight_map must be an object');
      for (const f of Object.values(map as Record<string, unknown>)) {
        // Shards are plain file names inside the folder: nothing may point elsewhere.
        if (typeof f !== 'string' || f !== basename(f) || !/^[\w.-]+\.safetensors$/.test(f) || f.startsWith('.'))
          throw modelFileError(index, `weight_map names a shard ${JSON.stringify(f)} that is not a .safetensors file in this folder`);
        if (!names.includes(f)) names.push(f);
      }
    } else throw modelFileError(dir, 'has neither model.safetensors nor model.safetensors.index.json');
    const files: SafetensorsFile[] = [];
    const byName = new Map<string, SafetensorsFile>();
    try {
      for (const n of names) {
        const f = await SafetensorsFile.open(join(dir, n));
        files.push(f);
        for (const k of f.entries.keys()) {
          if (byName.has(k)) throw modelFileError(f.path, `tensor ${JSON.stringify(k)} appears in two shards`);
          byName.set(k, f);
        }
      }
    } catch (e) {
      await Promise.all(files.map((f) => f.close()));
      throw e;
    }
    return new WeightSource(byName, files);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  read(name: string, shape: readonly number[]): Promise<Tensor> {
    const f = this.byName.get(name);
    if (!f) throw modelFileError(this.files[0]?.path ?? '', `tensor ${JSON.stringify(name)} is missing`);
    return f.read(name, shape);
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}

function int(cfg: Record<string, unknown>, key: string, file: string, max: number, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
    throw modelFileError(file, `config field ${key} must be an integer in [1, ${max}], got ${JSON.stringify(cfg[key])}`);
  return v;
}

function optId(v: unknown): number | null {
  if (Array.isArray(v)) v = v[0];
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null;
}

/** Conv1D weights are [in, out]; Linear wants [out, in]. */
function transpose(t: Tensor): Tensor {
  const [r, c] = t.shape as [number, number];
  const src = t.data;
  const dst = t.dtype === 'f32' ? new Float32Array(src.length) : new Uint16Array(src.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) dst[j * r + i] = src[i * c + j]!;
  return new Tensor(dst, [c, r], t.dtype);
}

export async function loadHfFolder(dir: string, dtype?: DType): Promise<{ network: Network; tokenizer: Tokenizer }> {
  const cfgPath = join(dir, 'config.json');
  const cfg = await readJson(cfgPath);
  const type = String(cfg.model_type ?? '');
  const tokJson = await readJson(join(dir, 'tokenizer.json'));
  const ws = await WeightSource.open(dir);
  try {
    let network: Network;
    if (type === 'llama' || type === 'mistral' || type === 'qwen2') network = await loadLlama(cfg, cfgPath, ws, dtype);
    else if (type === 'gpt2') network = await loadGpt2(cfg, cfgPath, ws, dtype);
    else throw modelFileError(cfgPath, `model_type ${JSON.stringify(cfg.model_type)} is not supported (llama, mistral, qwen2, gpt2)`);
    const c = network.config;
    const tokenizer = BpeTokenizer.fromJson(tokJson, { bosId: c.bosId, eosId: c.eosId, file: join(dir, 'tokenizer.json') });
    if (tokenizer.vocabSize > c.vocabSize)
      throw modelFileError(join(dir, 'tokenizer.json'), `has ${tokenizer.vocabSize} tokens, the model only ${c.vocabSize}`);
    return { network, tokenizer };
  } finally {
    await ws.close();
  }
}

async function loadLlama(cfg: Record<string, unknown>, file: string, ws: WeightSource, dtype?: DType): Promise<Network> {
  const dim = int(cfg, 'hidden_size', file, 1 << 16);
  const hiddenDim = int(cfg, 'intermediate_size', file, 1 << 18);
  const layers = int(cfg, 'num_hidden_layers', file, 1024);
  const heads = int(cfg, 'num_attention_heads', file, 1024);
  const kvHeads = int(cfg, 'num_key_value_heads', file, heads, heads);
  const vocabSize = int(cfg, 'vocab_size', file, 1 << 22);
  const maxSeqLen = int(cfg, 'max_position_embeddings', file, 1 << 22);
  const headDim = int(cfg, 'head_dim', file, 1 << 12, dim / heads);
  if (dim % heads !== 0 || headDim * heads !== dim || headDim % 2 !== 0)
    throw modelFileError(file, `hidden_size ${dim}, num_attention_heads ${heads}, head_dim ${headDim}: need head_dim · heads = hidden_size, head_dim even`);
  if (heads % kvHeads !== 0) throw modelFileError(file, `num_attention_heads ${heads} must be a multiple of num_key_value_heads ${kvHeads}`);
  const scaling = cfg.rope_scaling as { rope_type?: unknown; type?: unknown } | null | undefined;
  if (scaling && (scaling.rope_type ?? scaling.type) !== 'default')
    throw modelFileError(file, `rope_scaling ${JSON.stringify(scaling)} is not supported yet`);
  const theta = cfg.rope_theta ?? 10000;
  const eps = cfg.rms_norm_eps ?? 1e-6;
  if (typeof theta !== 'number' || !(theta > 0)) throw modelFileError(file, 'rope_theta must be a positive number');
  if (typeof eps !== 'number' || !(eps > 0 && eps < 1)) throw modelFileError(file, 'rms_norm_eps must be in (0, 1)');
  const hasHead = ws.has('lm_head.weight') || ws.metadata('sparsenn.sparse.lm_head.weight') !== undefined;
  const tied = cfg.tie_word_embeddings === true || (cfg.tie_word_embeddings === undefined && !hasHead);
  const kvDim = kvHeads * headDim;

  const lin = async (name: string, n: number, k: number, bias = false) => {
    const b = bias && ws.has(`${name}.bias`) ? (await ws.read(`${name}.bias`, [n])).toFloat32() : null;
    const sparse = await readSparseWeight(ws, `${name}.weight`, [n, k]);
    if (sparse) return new Linear(dtype ? castSparse(sparse, dtype) : sparse, b);
    const w = await ws.read(`${name}.weight`, [n, k]);
    return new Linear(dtype ? w.to(dtype) : w, b);
  };
  const vec = async (name: string, n: number) => (await ws.read(name, [n])).toFloat32();
  const biased = cfg.model_type === 'qwen2' || cfg.attention_bias === true;
  const ls: LlamaLayer[] = [];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    ls.push({
      attnNorm: await vec(p + 'input_layernorm.weight', dim),
      wq: await lin(p + 'self_attn.q_proj', dim, dim, biased),
      wk: await lin(p + 'self_attn.k_proj', kvDim, dim, biased),
      wv: await lin(p + 'self_attn.v_proj', kvDim, dim, biased),
      wo: await lin(p + 'self_attn.o_proj', dim, dim),
      ffnNorm: await vec(p + 'post_attention_layernorm.weight', dim),
      w1: await lin(p + 'mlp.gate_proj', hiddenDim, dim),
      w2: await lin(p + 'mlp.down_proj', dim, hiddenDim),
      w3: await lin(p + 'mlp.up_proj', hiddenDim, dim),
    });
  }
  const e = await ws.read('model.embed_tokens.weight', [vocabSize, dim]);
  const embedding = dtype ? e.to(dtype) : e;
  const head = tied ? new Linear(embedding) : await lin('lm_head', vocabSize, dim);
  const config: ModelConfig = {
    architecture: 'llama',
    source: 'safetensors',
    dim,
    hiddenDim,
    layers,
    heads,
    kvHeads,
    headDim,
    vocabSize,
    maxSeqLen,
    normEps: eps,
    ropeTheta: theta,
    ropeLayout: 'half',
    tiedEmbeddings: tied,
    bosId: optId(cfg.bos_token_id),
    eosId: optId(cfg.eos_token_id),
    weightDType: (head.weight as Tensor).dtype,
  };
  return new LlamaNetwork(config, { embedding, layers: ls, finalNorm: await vec('model.norm.weight', dim), head });
}

async function loadGpt2(cfg: Record<string, unknown>, file: string, ws: WeightSource, dtype?: DType): Promise<Network> {
  const dim = int(cfg, 'n_embd', file, 1 << 16);
  const layers = int(cfg, 'n_layer', file, 1024);
  const heads = int(cfg, 'n_head', file, 1024);
  const vocabSize = int(cfg, 'vocab_size', file, 1 << 22);
  const maxSeqLen = int(cfg, 'n_positions', file, 1 << 20);
  const hiddenDim = int(cfg, 'n_inner', file, 1 << 18, 4 * dim);
  if (dim % heads !== 0) throw modelFileError(file, `n_embd ${dim} must be a multiple of n_head ${heads}`);
  const act = cfg.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh')
    throw modelFileError(file, `activation_function ${JSON.stringify(act)} is not supported (gelu_new)`);
  const eps = cfg.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0 && eps < 1)) throw modelFileError(file, 'layer_norm_epsilon must be in (0, 1)');
  const pre = ws.has('transformer.wte.weight') ? 'transformer.' : '';
  const conv = async (name: string, k: number, n: number) => {
    const b = (await ws.read(`${pre}${name}.bias`, [n])).toFloat32();
    // A sparse weight is stored in the Linear layout [out, in] already (sparse_safetensors.ts).
    const sparse = await readSparseWeight(ws, `${pre}${name}.weight`, [n, k]);
    if (sparse) return new Linear(dtype ? castSparse(sparse, dtype) : sparse, b);
    const w = transpose(await ws.read(`${pre}${name}.weight`, [k, n]));
    return new Linear(dtype ? w.to(dtype) : w, b);
  };
  const norm = async (name: string): Promise<Norm> => ({
    weight: (await ws.read(`${pre}${name}.weight`, [dim])).toFloat32(),
    bias: (await ws.read(`${pre}${name}.bias`, [dim])).toFloat32(),
  });
  const ls: Gpt2Layer[] = [];
  for (let l = 0; l < layers; l++) {
    const p = `h.${l}.`;
    ls.push({
      ln1: await norm(p + 'ln_1'),
      attn: await conv(p + 'attn.c_attn', dim, 3 * dim),
      proj: await conv(p + 'attn.c_proj', dim, dim),
      ln2: await norm(p + 'ln_2'),
      fc: await conv(p + 'mlp.c_fc', dim, hiddenDim),
      fcProj: await conv(p + 'mlp.c_proj', hiddenDim, dim),
    });
  }
  const e = await ws.read(`${pre}wte.weight`, [vocabSize, dim]);
  const wte = dtype ? e.to(dtype) : e;
  const wpe = await ws.read(`${pre}wpe.weight`, [maxSeqLen, dim]);
  const config: ModelConfig = {
    architecture: 'gpt2',
    source: 'safetensors',
    dim,
    hiddenDim,
    layers,
    heads,
    kvHeads: heads,
    headDim: dim / heads,
    vocabSize,
    maxSeqLen,
    normEps: eps,
    ropeTheta: 0,
    ropeLayout: 'none',
    tiedEmbeddings: true,
    bosId: optId(cfg.bos_token_id),
    eosId: optId(cfg.eos_token_id),
    weightDType: wte.dtype,
  };
  return new Gpt2Network(config, { wte, wpe, layers: ls, lnF: await norm('ln_f'), head: new Linear(wte) });
}
