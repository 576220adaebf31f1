/** Model: a network plus its tokenizer, with the API a server calls (logits, generate, complete). */
import { resolveAttentionPolicy, type AttentionOption } from '../attention/create';
import { checkBackendChoice } from '../backend/select';
import type { BackendChoice } from '../backend/types';
import { SparsennError } from '../errors';
import {
  checkGenerateOptions,
  generate,
  generateBatch,
  promptIds,
  type BatchChunk,
  type GeneratedChunk,
  type GenerateOptions,
  type Prompt,
} from '../generate/generate';
import type { Tokenizer } from '../generate/tokenizer';
import type { Linear } from '../nn/linear';
import { checkOptions } from '../options';
import { Tensor } from '../tensor';
import type { ModelConfig, Network } from './types';

export interface LogitsOptions {
  backend?: BackendChoice;
  /** As in generate: a policy object, a spec ({ policy: 'streaming', ... }) or a per-layer/head map. */
  attention?: AttentionOption;
  signal?: AbortSignal;
}

export class Model {
  private disposed = false;

  constructor(
    readonly network: Network,
    readonly tokenizer: Tokenizer,
  ) {}

  get config(): ModelConfig {
    return this.network.config;
  }

  private live(): Network {
    if (this.disposed) throw new SparsennError('ERR_ARG', 'model has been disposed');
    return this.network;
  }

  /** Full causal forward pass over ids: logits [ids.length, vocab]. */
  async logits(ids: readonly number[], opts?: LogitsOptions): Promise<Tensor> {
    const o = checkOptions<LogitsOptions>(opts, ['backend', 'attention', 'signal'], 'logits');
    const net = this.live();
    const toks = promptIds(this.tokenizer, ids, net.config.vocabSize, 'logits');
    const cache = net.newCache(toks.length);
    const out = await net.forward([{ ids: toks, cache }], {
      backend: checkBackendChoice(o.backend),
      attention: resolveAttentionPolicy(o.attention, 'logits'),
      signal: o.signal,
      allLogits: true,
    });
    return new Tensor(out, [toks.length, net.config.vocabSize]);
  }

  /** Streams generated tokens and text. Options are checked now (ERR_ARG), not at the first token. */
  generate(prompt: Prompt, opts?: GenerateOptions): AsyncGenerator<GeneratedChunk> {
    checkGenerateOptions(opts, 'generate');
    return generate(this.live(), this.tokenizer, prompt, opts);
  }

  /** Decodes several prompts together (one matmul per layer per step for all of them). */
  generateBatch(prompts: readonly Prompt[], opts?: GenerateOptions): AsyncGenerator<BatchChunk> {
    checkGenerateOptions(opts, 'generateBatch');
    return generateBatch(this.live(), this.tokenizer, prompts, opts);
  }

  /** The whole generated text. */
  async complete(prompt: Prompt, opts?: GenerateOptions): Promise<string> {
    let text = '';
    for await (const chunk of this.generate(prompt, opts)) text += chunk.text;
    return text;
  }

  /** Every linear layer by name, for pruners (Linear.setWeight swaps in a sparse weight). */
  linears(): Map<string, Linear> {
    return this.live().linears();
  }

  /**
   * Releases the weights: native resources held by sparse weights (anything with dispose())
   * now, JS memory when the model is collected. The model cannot be used afterwards.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const lin of this.network.linears().values()) {
      const w = lin.weight as { dispose?: () => void };
      if (typeof w.dispose === 'function') w.dispose();
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
