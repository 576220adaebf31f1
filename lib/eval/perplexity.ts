/**
 * Perplexity: exp(mean negative log-likelihood) of each token given the ones before it.
 * Text longer than the window is scored with a sliding window (the Hugging Face recipe):
 * windows of `window` tokens start every `stride` tokens, and each token is scored once,
 * in the first window where it is a target, with up to window − stride tokens of context.
 */
import { checkBackendChoice } from '../backend/select';
import type { BackendChoice } from '../backend/types';
import { SparsennError } from '../errors';
import type { Model } from '../models/model';
import { resolveAttentionPolicy, type AttentionOption } from '../attention/create';
import { checkOptions } from '../options';

export interface PerplexityOptions {
  /** Tokens per forward pass (default and maximum: the model's context length). */
  window?: number;
  /** Step between windows (default window / 2). */
  stride?: number;
  /** Score at most this many tokens of the text. */
  maxTokens?: number;
  backend?: BackendChoice;
  /** Sparse attention: a spec such as { policy: 'quest', budget: 128 }, a per-layer map, or a policy object. */
  attention?: AttentionOption;
  signal?: AbortSignal;
}

export interface PerplexityResult {
  perplexity: number;
  /** Number of tokens scored (predicted). */
  tokens: number;
  /** Mean negative log-likelihood per scored token, in nats. */
  nll: number;
}

function posInt(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new SparsennError('ERR_ARG', `perplexity: ${name} must be an integer ≥ 1, got ${String(v)}`);
  return v;
}

export async function perplexity(model: Model, text: string | readonly number[], opts?: PerplexityOptions): Promise<PerplexityResult> {
  const o = checkOptions<PerplexityOptions>(opts, ['window', 'stride', 'maxTokens', 'backend', 'attention', 'signal'], 'perplexity');
  const backend = checkBackendChoice(o.backend);
  const attention = resolveAttentionPolicy(o.attention, 'perplexity');
  const ctx = model.config.maxSeqLen;
  const window = Math.min(posInt(o.window, 'window') ?? ctx, ctx);
  if (window < 2) throw new SparsennError('ERR_ARG', 'perplexity: window must be at least 2 tokens');
  const stride = Math.min(posInt(o.stride, 'stride') ?? Math.max(1, Math.floor(window / 2)), window - 1);
  const maxTokens = posInt(o.maxTokens, 'maxTokens');
  let ids = typeof text === 'string' ? model.tokenizer.encode(text) : Array.from(text);
  if (maxTokens !== undefined) ids = ids.slice(0, maxTokens + 1);
  if (ids.length < 2) throw new SparsennError('ERR_ARG', 'perplexity: the text needs at least 2 tokens');
  const V = model.config.vocabSize;
  let nllSum = 0;
  let scored = 0;
  // Tokens [0, done] have been scored as targets (token 0 never is: nothing precedes it).
  let done = 0;
  for (let begin = 0; done < ids.length - 1; begin += stride) {
    const end = Math.min(begin + window, ids.length);
    const logits = (await model.logits(ids.slice(begin, end), { backend, attention, signal: o.signal })).data as Float32Array;
    // Position p of the window predicts token begin + p + 1.
    for (let t = done + 1; t < end; t++) {
      const p = t - 1 - begin;
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, logits[p * V + v]!);
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(logits[p * V + v]! - max);
      nllSum += Math.log(sum) + max - logits[p * V + ids[t]!]!;
      scored++;
    }
    done = end - 1;
  }
  const nll = nllSum / scored;
  return { perplexity: Math.exp(nll), tokens: scored, nll };
}
