/**
 * loadModel: detects the format of `path` and loads it.
 * - a directory with config.json: a Hugging Face folder (safetensors weights, tokenizer.json), including
 *   one written by saveModel, whose sparse Linear weights load back in their format (sparse_safetensors.ts);
 * - a file: a llama2.c checkpoint, with its tokenizer given as { tokenizer: path }.
 */
import { readFile, stat } from 'node:fs/promises';
import { checkDType, type DType } from '../dtype';
import { SparsennError } from '../errors';
import { Llama2cTokenizer } from '../generate/llama2c_tokenizer';
import { checkOptions } from '../options';
import { loadHfFolder } from './hf';
import { loadLlama2cNetwork } from './llama2c';
import { Model } from './model';

const MAX_TOKENIZER_BYTES = 256 * 1024 * 1024;

export interface LoadModelOptions {
  /** llama2.c tokenizer file (tokenizer.bin / tok512.bin); required for llama2.c checkpoints. */
  tokenizer?: string;
  /** Store linear weights (and embeddings) in this dtype: 'bf16' / 'f16' halve the bytes read per token. */
  dtype?: DType;
}

export async function loadModel(path: string, opts?: LoadModelOptions): Promise<Model> {
  const o = checkOptions<LoadModelOptions>(opts, ['tokenizer', 'dtype'], 'loadModel');
  if (typeof path !== 'string') throw new SparsennError('ERR_ARG', 'loadModel: path must be a string');
  const dtype = o.dtype === undefined ? undefined : checkDType(o.dtype);
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new SparsennError('ERR_MODEL_FILE', `${path}: cannot read (${(e as Error).message})`, { cause: e });
  }
  if (st.isDirectory()) {
    if (o.tokenizer !== undefined)
      throw new SparsennError('ERR_ARG', 'loadModel: a Hugging Face folder brings its own tokenizer.json; drop the tokenizer option');
    const { network, tokenizer } = await loadHfFolder(path, dtype);
    return new Model(network, tokenizer);
  }
  if (typeof o.tokenizer !== 'string')
    throw new SparsennError('ERR_ARG', `loadModel: ${path} looks like a llama2.c checkpoint; pass its tokenizer file as { tokenizer: path }`);
  const network = await loadLlama2cNetwork(path, dtype ?? 'f32');
  let tokBytes: Uint8Array;
  try {
    const size = (await stat(o.tokenizer)).size;
    if (size > MAX_TOKENIZER_BYTES)
      throw new SparsennError('ERR_MODEL_FILE', `${o.tokenizer}: ${size} bytes is far larger than any tokenizer (limit ${MAX_TOKENIZER_BYTES})`);
    tokBytes = await readFile(o.tokenizer);
  } catch (e) {
    if (e instanceof SparsennError) throw e;
    throw new SparsennError('ERR_MODEL_FILE', `${o.tokenizer}: cannot read (${(e as Error).message})`, { cause: e });
  }
  const tokenizer = Llama2cTokenizer.parse(tokBytes, network.config.vocabSize, o.tokenizer);
  return new Model(network, tokenizer);
}
