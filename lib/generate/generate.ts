/**
 * The decoding loop: prefill the prompt in one forward pass (every linear layer is one
 * matmul with M = prompt length), then decode token by token from the KV cache, streaming
 * text as soon as it is decodable. Several prompts decode together in generateBatch: their
 * rows are stacked so each linear layer is still one matmul per step.
 */
import { checkBackendChoice } from '../backend/select';
import type { BackendChoice } from '../backend/types';
import { SparsennError } from '../errors';
import type { Network } from '../models/types';
import { resolveAttentionPolicy, type AttentionOption } from '../attention/create';
import type { AttentionPolicy } from '../nn/attention';
import { checkOptions } from '../options';
import type { KvCache } from './kv_cache';
import { Sampler, type SamplingOptions } from './sampler';
import { StopMatcher } from './stop_matcher';
import { TextStream, type Tokenizer } from './tokenizer';

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate (default: until the end token or the context is full). */
  maxTokens?: number;
  /** Token ids and/or strings that end generation; neither is emitted. */
  stop?: number | string | readonly (number | string)[];
  /** Cancels generation: the generator rejects with signal.reason. */
  signal?: AbortSignal;
  backend?: BackendChoice;
  /**
   * Which cached keys each head reads (sparse attention); default full attention. A spec such as
   * { policy: 'quest', budget: 1024, pageSize: 16 }, a per-layer / per-head map, or a policy object.
   */
  attention?: AttentionOption;
}

export interface GeneratedChunk {
  token: number;
  /** Newly decodable text ('' while a UTF-8 character or a possible stop string is incomplete). */
  text: string;
}

export interface BatchChunk extends GeneratedChunk {
  /** Which prompt of the batch this token belongs to. */
  index: number;
}

export type Prompt = string | readonly number[];

const GENERATE_OPTIONS = [
  'maxTokens',
  'temperature',
  'topK',
  'topP',
  'minP',
  'repetitionPenalty',
  'seed',
  'stop',
  'signal',
  'backend',
  'attention',
] as const;

export interface CheckedGenerateOptions {
  maxTokens: number;
  stopIds: Set<number>;
  stopStrings: string[];
  signal?: AbortSignal;
  backend: BackendChoice;
  attention?: AttentionPolicy;
  sampling: SamplingOptions;
}

export function checkGenerateOptions(opts: unknown, fn: string): CheckedGenerateOptions {
  const o = checkOptions<GenerateOptions>(opts, GENERATE_OPTIONS, fn);
  const maxTokens = o.maxTokens ?? Number.MAX_SAFE_INTEGER;
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 0)
    throw new SparsennError('ERR_ARG', `${fn}: maxTokens must be an integer ≥ 0, got ${String(o.maxTokens)}`);
  const stops = o.stop === undefined ? [] : Array.isArray(o.stop) ? o.stop : [o.stop];
  const stopIds = new Set<number>();
  const stopStrings: string[] = [];
  for (const s of stops as unknown[]) {
    if (typeof s === 'number' && Number.isInteger(s)) stopIds.add(s);
    else if (typeof s === 'string' && s.length > 0) stopStrings.push(s);
    else throw new SparsennError('ERR_ARG', `${fn}: stop entries must be token ids or non-empty strings, got ${String(s)}`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
    throw new SparsennError('ERR_ARG', `${fn}: signal must be an AbortSignal`);
  const attention = resolveAttentionPolicy(o.attention, fn);
  const sampling: SamplingOptions = {
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    minP: o.minP,
    repetitionPenalty: o.repetitionPenalty,
    seed: o.seed,
  };
  new Sampler(sampling); // validates the sampling options now, not at the first token
  return { maxTokens, stopIds, stopStrings, signal: o.signal, backend: checkBackendChoice(o.backend), attention, sampling };
}

export function promptIds(tokenizer: Tokenizer, prompt: Prompt, vocabSize: number, fn: string): number[] {
  const ids = typeof prompt === 'string' ? tokenizer.encode(prompt) : Array.from(prompt as readonly number[]);
  if (typeof prompt !== 'string' && !Array.isArray(prompt))
    throw new SparsennError('ERR_ARG', `${fn}: prompt must be a string or an array of token ids`);
  for (const id of ids)
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
      throw new SparsennError('ERR_ARG', `${fn}: token id ${id} is outside the vocabulary [0, ${vocabSize})`);
  if (ids.length === 0) throw new SparsennError('ERR_ARG', `${fn}: the prompt has no tokens (and the model has no BOS token)`);
  return ids;
}

/** One sequence being decoded (also used by the continuous-batching scheduler). */
export class Sequence {
  readonly history: number[];
  readonly stream: TextStream;
  readonly stops: StopMatcher;
  readonly sampler: Sampler;
  generated = 0;
  done = false;

  constructor(
    readonly index: number,
    readonly cache: KvCache,
    prompt: number[],
    tokenizer: Tokenizer,
    o: CheckedGenerateOptions,
    seedOffset: number,
  ) {
    this.history = prompt;
    this.stream = new TextStream(tokenizer, prompt[prompt.length - 1] ?? null);
    this.stops = new StopMatcher(o.stopStrings);
    const seed = o.sampling.seed === undefined ? undefined : o.sampling.seed + seedOffset;
    this.sampler = new Sampler({ ...o.sampling, seed });
  }

  /**
   * Samples the next token from its logits and returns the chunk to emit (null when the
   * sequence ends without emitting a token), marking the sequence done when it ends.
   */
  step(logits: Float32Array, net: Network, o: CheckedGenerateOptions): GeneratedChunk | null {
    const c = net.config;
    const next = this.sampler.sample(logits, this.history);
    if (o.stopIds.has(next) || next === c.eosId || next === c.bosId) {
      this.done = true;
      const rest = this.stops.flush() + this.stream.flush();
      return rest ? { token: next, text: rest } : null;
    }
    this.history.push(next);
    this.generated++;
    const { text, stopped } = this.stops.push(this.stream.push(next));
    // The context holds maxSeqLen tokens in all: prompt plus generated (unless the policy evicts, keeping the cache smaller).
    const last = this.generated >= o.maxTokens || (this.history.length >= c.maxSeqLen && !boundsCache(o.attention, c.maxSeqLen));
    if (stopped) {
      this.done = true;
      return { token: next, text };
    }
    if (last) {
      // Nothing more will come: release text held back for a possible stop string or UTF-8 tail.
      this.done = true;
      return { token: next, text: text + this.stops.flush() + this.stream.flush() };
    }
    return { token: next, text };
  }
}

/** True when the policy evicts so that a decode step never needs more than the context length. */
function boundsCache(policy: AttentionPolicy | undefined, maxSeqLen: number): boolean {
  return policy?.eviction !== undefined && policy.eviction.bound(1) <= maxSeqLen;
}

/**
 * A new sequence's cache, sized for the prompt plus the tokens it may generate, or for what a
 * bounded-memory policy will ever keep, whichever is smaller.
 */
export function newSequenceCache(net: Network, promptLength: number, o: CheckedGenerateOptions): KvCache {
  const c = net.config;
  let size = Math.min(c.maxSeqLen, promptLength + Math.min(o.maxTokens, c.maxSeqLen));
  if (o.attention?.eviction) size = Math.min(size, o.attention.eviction.bound(promptLength));
  return net.newCache(size);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

/** Streams tokens for several prompts decoded together; chunks of different prompts interleave. */
export async function* generateBatch(
  net: Network,
  tokenizer: Tokenizer,
  prompts: readonly Prompt[],
  opts: unknown,
  fn = 'generateBatch',
): AsyncGenerator<BatchChunk> {
  if (!Array.isArray(prompts) || prompts.length === 0)
    throw new SparsennError('ERR_ARG', `${fn}: prompts must be a non-empty array`);
  const o = checkGenerateOptions(opts, fn);
  const c = net.config;
  const seqs = prompts.map((p, i) => {
    const ids = promptIds(tokenizer, p, c.vocabSize, fn);
    if (ids.length > c.maxSeqLen)
      throw new SparsennError('ERR_ARG', `${fn}: prompt of ${ids.length} tokens exceeds the context length ${c.maxSeqLen}`);
    const cache = newSequenceCache(net, ids.length, o);
    return { seq: new Sequence(i, cache, ids, tokenizer, o, i), pending: ids };
  });
  if (o.maxTokens === 0) return;
  throwIfAborted(o.signal);
  let active = seqs;
  const fwd = { backend: o.backend, attention: o.attention, allLogits: false, signal: o.signal };
  while (active.length > 0) {
    const logits = await net.forward(
      active.map((a) => ({ ids: a.pending, cache: a.seq.cache })),
      fwd,
    );
    throwIfAborted(o.signal);
    const next: typeof active = [];
    for (let i = 0; i < active.length; i++) {
      const a = active[i]!;
      const chunk = a.seq.step(logits.subarray(i * c.vocabSize, (i + 1) * c.vocabSize), net, o);
      if (chunk) yield { index: a.seq.index, ...chunk };
      throwIfAborted(o.signal);
      if (!a.seq.done) next.push({ seq: a.seq, pending: [a.seq.history[a.seq.history.length - 1]!] });
    }
    active = next;
  }
}

/** Streams the tokens of one prompt. */
export async function* generate(net: Network, tokenizer: Tokenizer, prompt: Prompt, opts: unknown): AsyncGenerator<GeneratedChunk> {
  for await (const { token, text } of generateBatch(net, tokenizer, [prompt], opts, 'generate')) yield { token, text };
}
