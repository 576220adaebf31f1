/**
 * Next-token sampling: repetition penalty → temperature → top-k → top-p → min-p, then a draw
 * from a seeded PRNG, so the same seed gives the same text. temperature 0 is greedy (argmax).
 */
import { SparsennError } from '../errors';
import { kthLargestInPlace } from '../kth_largest';
import { seededRandom } from '../random';

export interface SamplingOptions {
  /** 0 = greedy; default 1. */
  temperature?: number;
  /** Keep the k most likely tokens; 0 (default) = off. */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p; 1 (default) = off. */
  topP?: number;
  /** Drop tokens less likely than minP × the most likely one; 0 (default) = off. */
  minP?: number;
  /** CTRL-style penalty (> 1 discourages) for tokens already in the sequence; 1 (default) = off. */
  repetitionPenalty?: number;
  /** Seed of the sampling PRNG; default: random. */
  seed?: number;
}

function num(v: unknown, name: string, ok: (x: number) => boolean, want: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new SparsennError('ERR_ARG', `${name} must be ${want}, got ${String(v)}`);
  return v;
}

export class Sampler {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly minP: number;
  readonly repetitionPenalty: number;
  private readonly random: () => number;

  constructor(opts: SamplingOptions = {}) {
    this.temperature = num(opts.temperature, 'temperature', (x) => x >= 0, 'a number ≥ 0') ?? 1;
    this.topK = num(opts.topK, 'topK', (x) => Number.isInteger(x) && x >= 0, 'an integer ≥ 0') ?? 0;
    this.topP = num(opts.topP, 'topP', (x) => x > 0 && x <= 1, 'in (0, 1]') ?? 1;
    this.minP = num(opts.minP, 'minP', (x) => x >= 0 && x < 1, 'in [0, 1)') ?? 0;
    this.repetitionPenalty = num(opts.repetitionPenalty, 'repetitionPenalty', (x) => x > 0, 'a number > 0') ?? 1;
    const seed = num(opts.seed, 'seed', (x) => Number.isInteger(x), 'an integer');
    this.random = seededRandom(seed ?? Math.floor(Math.random() * 4294967296));
  }

  /** Plain temperature sampling: one pass, no sort (vocabularies of 100k+ tokens make sorting the cost). */
  private drawUnsorted(z: Float64Array, max: number): number {
    let sum = 0;
    for (let i = 0; i < z.length; i++) {
      const e = Math.exp((z[i]! - max) / this.temperature);
      z[i] = e;
      sum += e;
    }
    const r = this.random() * sum;
    let c = 0;
    for (let i = 0; i < z.length; i++) {
      c += z[i]!;
      if (r < c) return i;
    }
    return argmax(z);
  }

  /** Picks the next token from logits (not modified) given the ids so far. */
  sample(logits: Float32Array, history: readonly number[]): number {
    const z = Float64Array.from(logits);
    if (this.repetitionPenalty !== 1) {
      for (const id of new Set(history)) {
        if (id < 0 || id >= z.length) continue;
        z[id] = z[id]! > 0 ? z[id]! / this.repetitionPenalty : z[id]! * this.repetitionPenalty;
      }
    }
    if (this.temperature === 0) return argmax(z);
    let max = -Infinity;
    for (let i = 0; i < z.length; i++) if (z[i]! > max) max = z[i]!;
    if (this.topK === 0 && this.topP === 1 && this.minP === 0) return this.drawUnsorted(z, max);
    // Candidates sorted by probability, most likely first; with topK only the k best are sorted.
    let order: number[];
    if (this.topK > 0 && this.topK < z.length) {
      const kth = kthLargestInPlace(Float64Array.from(z), this.topK);
      order = [];
      for (let i = 0; i < z.length; i++) if (z[i]! > kth) order.push(i);
      for (let i = 0; i < z.length && order.length < this.topK; i++) if (z[i] === kth) order.push(i);
      order.sort((a, b) => z[b]! - z[a]! || a - b);
    } else order = Array.from(z.keys()).sort((a, b) => z[b]! - z[a]! || a - b);
    const p = new Float64Array(order.length);
    let sum = 0;
    order.forEach((id, i) => {
      p[i] = Math.exp((z[id]! - max) / this.temperature);
      sum += p[i]!;
    });
    for (let i = 0; i < p.length; i++) p[i]! /= sum;
    let n = p.length;
    if (this.topP < 1) {
      let c = 0;
      for (let i = 0; i < n; i++) {
        c += p[i]!;
        if (c >= this.topP) {
          n = i + 1;
          break;
        }
      }
    }
    if (this.minP > 0) {
      const floor = this.minP * p[0]!;
      let m = 1;
      while (m < n && p[m]! >= floor) m++;
      n = m;
    }
    let total = 0;
    for (let i = 0; i < n; i++) total += p[i]!;
    const r = this.random() * total;
    let c = 0;
    for (let i = 0; i < n; i++) {
      c += p[i]!;
      if (r < c) return order[i]!;
    }
    return order[n - 1]!;
  }
}

export function argmax(z: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < z.length; i++) if (z[i]! > z[best]!) best = i;
  return best;
}
