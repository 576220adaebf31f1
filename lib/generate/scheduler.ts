/**
 * Continuous batching for servers. Requests join and leave between decode steps; each step runs
 * the new tokens of every active sequence through ONE forward pass, so each linear layer is one
 * matmul with a row per sequence (plus the prompt rows of sequences that join at that step).
 * Each request keeps its own sampling options, seed, stop strings, token limit and AbortSignal,
 * and produces exactly what it would produce alone with the same seed (as far as the kernels
 * give the same sums for a row whatever the batch size, which the load tests check).
 */
import type { BackendChoice } from '../backend/types';
import { SparsennError } from '../errors';
import type { Model } from '../models/model';
import type { AttentionPolicy } from '../nn/attention';
import { checkOptions } from '../options';
import { AsyncQueue } from './async_queue';
import { checkGenerateOptions, newSequenceCache, promptIds, Sequence, type CheckedGenerateOptions, type GeneratedChunk, type GenerateOptions, type Prompt } from './generate';

export interface SchedulerOptions {
  /** Most sequences decoded together (default 16); later requests wait for a free slot. */
  maxBatch?: number;
  backend?: BackendChoice;
  /** Sparse-attention policy shared by every sequence. */
  attention?: AttentionPolicy;
}

/** Per-request options: everything of GenerateOptions except what the batch shares. */
export type RequestOptions = Omit<GenerateOptions, 'backend' | 'attention'>;

interface Request {
  seq: Sequence;
  pending: number[];
  opts: CheckedGenerateOptions;
  queue: AsyncQueue<GeneratedChunk>;
  cancelled: boolean;
}

export class BatchScheduler {
  private readonly waiting: Request[] = [];
  private active: Request[] = [];
  private running = false;
  private closed = false;
  private readonly maxBatch: number;
  private readonly backend: BackendChoice | undefined;
  private readonly attention: AttentionPolicy | undefined;
  /** Decode steps run so far and the largest batch seen (for monitoring). */
  readonly stats = { steps: 0, maxBatchSeen: 0, tokens: 0 };

  constructor(
    private readonly model: Model,
    opts?: SchedulerOptions,
  ) {
    const o = checkOptions<SchedulerOptions>(opts, ['maxBatch', 'backend', 'attention'], 'BatchScheduler');
    const maxBatch = o.maxBatch ?? 16;
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 4096)
      throw new SparsennError('ERR_ARG', `BatchScheduler: maxBatch must be an integer in [1, 4096], got ${String(o.maxBatch)}`);
    this.maxBatch = maxBatch;
    // Validate the shared options once, the way generate() would.
    const shared = checkGenerateOptions({ backend: o.backend, attention: o.attention }, 'BatchScheduler');
    this.backend = shared.backend;
    this.attention = shared.attention;
  }

  /** Sequences decoding now plus those waiting for a slot. */
  get load(): { active: number; waiting: number } {
    return { active: this.active.length, waiting: this.waiting.length };
  }

  /**
   * Queues a prompt; the returned generator streams its chunks. Options are checked now (ERR_ARG).
   * Breaking out of the loop (or aborting the signal) frees the sequence's slot and KV cache.
   */
  submit(prompt: Prompt, opts?: RequestOptions): AsyncGenerator<GeneratedChunk> {
    if (this.closed) throw new SparsennError('ERR_ARG', 'BatchScheduler: closed');
    const o = checkGenerateOptions(opts, 'BatchScheduler.submit');
    if ((opts as GenerateOptions | undefined)?.backend !== undefined || (opts as GenerateOptions | undefined)?.attention !== undefined)
      throw new SparsennError('ERR_ARG', 'BatchScheduler.submit: backend and attention are set on the scheduler, not per request');
    const net = this.model.network;
    const c = net.config;
    const ids = promptIds(this.model.tokenizer, prompt, c.vocabSize, 'BatchScheduler.submit');
    if (ids.length > c.maxSeqLen)
      throw new SparsennError('ERR_ARG', `BatchScheduler.submit: prompt of ${ids.length} tokens exceeds the context length ${c.maxSeqLen}`);
    const queue = new AsyncQueue<GeneratedChunk>();
    if (o.maxTokens === 0) {
      queue.end();
      return queue.drain();
    }
    // The scheduler's policy applies to every request (a bounded-memory one sizes its cache and lifts the context limit).
    const ro: CheckedGenerateOptions = { ...o, attention: this.attention };
    const cache = newSequenceCache(net, ids.length, ro);
    // Seed offset 0: a request samples exactly as it would alone.
    const req: Request = { seq: new Sequence(0, cache, ids, this.model.tokenizer, ro, 0), pending: ids, opts: ro, queue, cancelled: false };
    this.waiting.push(req);
    this.kick();
    return this.stream(req);
  }

  /** Stops accepting requests; those in flight finish. */
  close(): void {
    this.closed = true;
  }

  private async *stream(req: Request): AsyncGenerator<GeneratedChunk> {
    try {
      yield* req.queue.drain();
    } finally {
      req.cancelled = true; // the consumer stopped early: free the slot at the next step
    }
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    // Start on a later tick so requests submitted together join the same first step.
    setImmediate(() => {
      this.loop().finally(() => {
        this.running = false;
        if (this.waiting.length > 0) this.kick();
      });
    });
  }

  /** Drops requests that were aborted or abandoned, rejecting aborted ones with their signal's reason. */
  private prune(list: Request[]): Request[] {
    return list.filter((r) => {
      if (r.opts.signal?.aborted) {
        r.queue.fail(r.opts.signal.reason);
        return false;
      }
      return !r.cancelled;
    });
  }

  private async loop(): Promise<void> {
    const net = this.model.network;
    const vocab = net.config.vocabSize;
    for (;;) {
      this.active = this.prune(this.active);
      const queued = this.prune(this.waiting.splice(0));
      while (this.active.length < this.maxBatch && queued.length > 0) this.active.push(queued.shift()!);
      this.waiting.unshift(...queued);
      if (this.active.length === 0) return;

      const batch = this.active;
      this.stats.steps++;
      this.stats.maxBatchSeen = Math.max(this.stats.maxBatchSeen, batch.length);
      let logits: Float32Array;
      try {
        logits = await net.forward(
          batch.map((r) => ({ ids: r.pending, cache: r.seq.cache })),
          { backend: this.backend, attention: this.attention, allLogits: false },
        );
      } catch (e) {
        for (const r of batch) r.queue.fail(e);
        this.active = [];
        continue;
      }
      const still: Request[] = [];
      for (let i = 0; i < batch.length; i++) {
        const r = batch[i]!;
        if (r.cancelled || r.opts.signal?.aborted) {
          still.push(r); // prune() settles it at the top of the next step
          continue;
        }
        const chunk = r.seq.step(logits.subarray(i * vocab, (i + 1) * vocab), net, r.opts);
        if (chunk) {
          this.stats.tokens++;
          r.queue.push(chunk);
        }
        if (r.seq.done) r.queue.end();
        else {
          r.pending = [r.seq.history[r.seq.history.length - 1]!];
          still.push(r);
        }
      }
      // Requests that joined while this step ran are in this.waiting; keep order stable.
      this.active = still;
    }
  }
}
