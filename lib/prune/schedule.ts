/**
 * Gradual magnitude pruning (Zhu & Gupta, 2017): sparsity rises from s_i to s_f
 * over n pruning steps spaced Δt training steps apart, starting at t0,
 *   s_t = s_f + (s_i − s_f)(1 − (t − t0)/(nΔt))³,
 * fast at first (when many weights are redundant) and slowly at the end. A
 * training loop calls step() once per training step; masks only grow: a weight
 * pruned once stays pruned even if training moved it.
 */
import { SparsennError } from '../errors';
import { checkOptions } from '../options';
import type { Tensor } from '../tensor';
import { checkWeight, maskedWeight, type Pattern, type PruneResult } from './pattern';
import { pruneCount, pruneLowest } from './select';

export interface GradualScheduleOptions {
  /** s_i, the sparsity at t0 (default 0). */
  initialSparsity?: number;
  /** s_f, the final sparsity, in [s_i, 1). */
  finalSparsity: number;
  /** t0, the training step of the first pruning (default 0). */
  startStep?: number;
  /** n, how many pruning steps (≥ 1). */
  pruningSteps: number;
  /** Δt, training steps between pruning steps (default 1). */
  frequency?: number;
  /** 'layer' (default): one threshold per weight matrix; 'row': per output row. */
  scope?: 'layer' | 'row';
}

const OPTIONS = ['initialSparsity', 'finalSparsity', 'startStep', 'pruningSteps', 'frequency', 'scope'] as const;

export class GradualSchedule {
  readonly initialSparsity: number;
  readonly finalSparsity: number;
  readonly startStep: number;
  readonly pruningSteps: number;
  readonly frequency: number;
  readonly scope: 'layer' | 'row';
  /** The current training step t (starts at 0; step() advances it). */
  t = 0;
  private readonly masks = new Map<string, Uint8Array>();
  private readonly pattern: Pattern = { kind: 'unstructured' };

  constructor(opts: GradualScheduleOptions) {
    const fn = 'GradualSchedule';
    const o = checkOptions<GradualScheduleOptions>(opts, OPTIONS, fn);
    const si = o.initialSparsity ?? 0;
    const sf = o.finalSparsity;
    if (typeof si !== 'number' || !(si >= 0 && si < 1)) throw new SparsennError('ERR_ARG', `${fn}: initialSparsity must be in [0, 1)`);
    if (typeof sf !== 'number' || !(sf >= si && sf < 1))
      throw new SparsennError('ERR_ARG', `${fn}: finalSparsity must be in [initialSparsity, 1), got ${String(sf)}`);
    const int = (v: unknown, name: string, min: number): number => {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
        throw new SparsennError('ERR_ARG', `${fn}: ${name} must be an integer ≥ ${min}, got ${String(v)}`);
      return v;
    };
    this.initialSparsity = si;
    this.finalSparsity = sf;
    this.startStep = int(o.startStep ?? 0, 'startStep', 0);
    this.pruningSteps = int(o.pruningSteps, 'pruningSteps', 1);
    this.frequency = int(o.frequency ?? 1, 'frequency', 1);
    this.scope = o.scope === 'row' ? 'row' : 'layer';
    if (o.scope !== undefined && o.scope !== 'row' && o.scope !== 'layer')
      throw new SparsennError('ERR_ARG', `${fn}: scope must be 'layer' or 'row'`);
  }

  /** The target sparsity at training step t: held constant between pruning steps, s_f after the last. */
  sparsityAt(t: number): number {
    if (t < this.startStep) return this.initialSparsity;
    const span = this.pruningSteps * this.frequency;
    // Pruning happens at t0, t0 + Δt, ...: between those the sparsity holds.
    const tq = Math.min(span, Math.floor((t - this.startStep) / this.frequency) * this.frequency);
    const frac = 1 - tq / span;
    const s = this.finalSparsity + (this.initialSparsity - this.finalSparsity) * frac * frac * frac;
    // Clamped so rounding can never make the schedule dip below s_i or above s_f.
    return Math.min(this.finalSparsity, Math.max(this.initialSparsity, s));
  }

  /** The target sparsity now. */
  get sparsity(): number {
    return this.sparsityAt(this.t);
  }

  /** True when step t is one where the schedule prunes (t0, t0 + Δt, ..., t0 + nΔt). */
  isPruningStep(t: number): boolean {
    const d = t - this.startStep;
    return d >= 0 && d <= this.pruningSteps * this.frequency && d % this.frequency === 0;
  }

  /** The mask held for a layer (1 = kept), if it was pruned before. */
  mask(name: string): Uint8Array | undefined {
    return this.masks.get(name);
  }

  /**
   * Prunes the named weight to the current sparsity by magnitude, keeping every
   * weight already pruned pruned (they are removed first). Returns the pruned
   * weight for the training loop to write back.
   */
  prune(name: string, w: Tensor): PruneResult {
    const fn = 'GradualSchedule.prune';
    const { rows, cols, values } = checkWeight(w, this.pattern, fn);
    const prev = this.masks.get(name);
    if (prev && prev.length !== values.length)
      throw new SparsennError('ERR_SHAPE', `${fn}: '${name}' changed size from ${prev.length} to ${values.length} elements`);
    const scores = new Float64Array(values.length);
    for (let i = 0; i < values.length; i++) scores[i] = prev && !prev[i] ? -1 : Math.abs(values[i]!);
    const mask = new Uint8Array(values.length).fill(1);
    const s = this.sparsity;
    if (this.scope === 'row') {
      const k = pruneCount(s, cols);
      for (let r = 0; r < rows; r++) pruneLowest(scores, mask, r * cols, cols, Math.max(k, prunedIn(prev, r * cols, cols)));
    } else {
      pruneLowest(scores, mask, 0, values.length, Math.max(pruneCount(s, values.length), prunedIn(prev, 0, values.length)));
    }
    this.masks.set(name, mask);
    return { weight: maskedWeight(values, mask, w), mask };
  }

  /**
   * One training step: when t is a pruning step, prunes every given weight
   * (name → tensor) and returns the results; then advances t.
   */
  step(weights: Readonly<Record<string, Tensor>> = {}): { t: number; sparsity: number; pruned: Record<string, PruneResult> } {
    const t = this.t;
    const pruned: Record<string, PruneResult> = {};
    if (this.isPruningStep(t)) for (const [name, w] of Object.entries(weights)) pruned[name] = this.prune(name, w);
    const sparsity = this.sparsity;
    this.t++;
    return { t, sparsity, pruned };
  }
}

function prunedIn(mask: Uint8Array | undefined, begin: number, len: number): number {
  if (!mask) return 0;
  let n = 0;
  for (let i = begin; i < begin + len; i++) if (!mask[i]) n++;
  return n;
}
