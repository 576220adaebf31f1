/**
 * pruneModel: prune the Linear layers of a loaded model with one method, layer
 * group by layer group in the order the forward pass uses them, then store each
 * layer in the format that serves it best.
 *
 * With calibration text, each group (layers that read the same input: q/k/v,
 * gate/up) is calibrated on inputs produced by the already-pruned layers before
 * it, as in the SparseGPT paper; the forward pass stops as soon as the group has
 * seen its inputs, and only that group's statistics are held (memory ∝ K²).
 */
import { checkBackendChoice } from '../backend/select';
import type { BackendChoice } from '../backend/types';
import { bytesPerElement } from '../dtype';
import { SparsennError } from '../errors';
import { toBitmap } from '../formats/bitmap';
import { toCsr } from '../formats/csr';
import { toNm } from '../formats/nm';
import { isSparseMatrix, type SparseMatrix } from '../formats/types';
import type { Model } from '../models/model';
import type { Linear } from '../nn/linear';
import { matmul } from '../ops/matmul';
import { checkOptions } from '../options';
import { Tensor } from '../tensor';
import { calibrationSequences, LayerStats, observeLinearInputs, type CalibrationOptions } from './calibration';
import { dsnot } from './dsnot';
import { outputNorm, reconstructionError } from './error';
import { magnitude } from './magnitude';
import { checkFits, maskSparsity, parsePattern, patternName, resolveSparsity, type Pattern, type PatternSpec, type PruneResult } from './pattern';
import { random } from './random';
import { sparsegptAsync } from './sparsegpt';
import { wanda } from './wanda';

export type PruneMethod = 'magnitude' | 'random' | 'wanda' | 'sparsegpt';

export interface PruneProgress {
  /** The layer being worked on. */
  layer: string;
  /** 0-based position of the layer among those pruned, and how many there are. */
  index: number;
  total: number;
  phase: 'calibrate' | 'prune' | 'store';
}

export interface PruneModelOptions {
  method: PruneMethod;
  /** Fraction of each layer's weights to remove; implied by an N:M pattern. */
  sparsity?: number;
  /** 'unstructured' (default), '2:4', any 'N:M', or {n, m}. */
  pattern?: PatternSpec;
  /** Refine each layer's mask with DSnoT after the method (needs calibration). */
  refine?: 'dsnot';
  /** Calibration text (required by wanda, sparsegpt and dsnot; used for the reported error otherwise). */
  calibration?: CalibrationOptions;
  /** Which layers (names from model.linears()); default every linear but the output head. */
  layers?: readonly string[] | ((name: string) => boolean);
  /**
   * How to store pruned layers: 'auto' (default) keeps the sparse format (N:M for N:M
   * patterns, else the faster of CSR and bitmap) only where its batch-1 matmul measures
   * faster than the dense one; 'sparse' always (CSR for unstructured); 'dense' never
   * (zeros stay in a dense tensor).
   */
  storage?: 'auto' | 'sparse' | 'dense';
  /** SparseGPT: columns per block (default 128) and dampening (default 0.01). */
  blockSize?: number;
  dampening?: number;
  /** Random: seed (default 1). */
  seed?: number;
  backend?: BackendChoice;
  onProgress?: (p: PruneProgress) => void;
}

export interface PruneLayerReport {
  name: string;
  shape: [number, number];
  /** Achieved fraction of zeros in the mask. */
  sparsity: number;
  pattern: string;
  format: 'dense' | 'csr' | 'nm' | 'bitmap';
  bytes: number;
  denseBytes: number;
  /** ‖WX − ŴX‖ / ‖WX‖ on this layer's calibration inputs (after refinement), when calibrated. */
  error?: number;
  /** The same before DSnoT, when refined. */
  errorBeforeRefine?: number;
  /** DSnoT swaps made. */
  swaps?: number;
  /** Batch-1 matmul medians (ms) that chose the format, under storage 'auto'. */
  timing?: { denseMs: number; sparseMs: number };
  notes: string[];
}

export interface PruneReport {
  method: PruneMethod;
  pattern: string;
  refine?: 'dsnot';
  /** Zeros over all pruned layers' weights. */
  sparsity: number;
  layers: PruneLayerReport[];
  /** Storage of the pruned layers, before and after. */
  denseBytes: number;
  bytes: number;
  calibration?: { sequences: number; tokens: number };
  seconds: number;
}

const OPTIONS = [
  'method',
  'sparsity',
  'pattern',
  'refine',
  'calibration',
  'layers',
  'storage',
  'blockSize',
  'dampening',
  'seed',
  'backend',
  'onProgress',
] as const;

/** Thrown by an observer to end a calibration forward pass once the group has its inputs. */
class GroupSeen extends Error {}

interface Prepared {
  method: PruneMethod;
  pattern: Pattern;
  sparsity: number;
  storage: 'auto' | 'sparse' | 'dense';
  o: Partial<PruneModelOptions>;
}

function check(opts: unknown): Prepared {
  const fn = 'pruneModel';
  const o = checkOptions<PruneModelOptions>(opts, OPTIONS, fn);
  const method = o.method;
  if (method !== 'magnitude' && method !== 'random' && method !== 'wanda' && method !== 'sparsegpt')
    throw new SparsennError('ERR_ARG', `${fn}: method must be 'magnitude', 'random', 'wanda' or 'sparsegpt', got ${String(method)}`);
  const pattern = parsePattern(o.pattern, fn);
  if (pattern.kind === 'block') throw new SparsennError('ERR_ARG', `${fn}: block patterns are for prune.magnitude; use unstructured or N:M here`);
  const sparsity = resolveSparsity(o.sparsity, pattern, fn);
  if (o.refine !== undefined && o.refine !== 'dsnot') throw new SparsennError('ERR_ARG', `${fn}: refine must be 'dsnot'`);
  if ((method === 'wanda' || method === 'sparsegpt' || o.refine === 'dsnot') && o.calibration === undefined)
    throw new SparsennError('ERR_ARG', `${fn}: ${o.refine === 'dsnot' ? 'DSnoT' : method} needs calibration text ({ calibration: { text } })`);
  const storage = o.storage ?? 'auto';
  if (storage !== 'auto' && storage !== 'sparse' && storage !== 'dense')
    throw new SparsennError('ERR_ARG', `${fn}: storage must be 'auto', 'sparse' or 'dense'`);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new SparsennError('ERR_ARG', `${fn}: onProgress must be a function`);
  if (o.layers !== undefined && typeof o.layers !== 'function' && !Array.isArray(o.layers))
    throw new SparsennError('ERR_ARG', `${fn}: layers must be an array of names or a predicate`);
  checkBackendChoice(o.backend);
  return { method, pattern, sparsity, storage, o };
}

function denseWeight(lin: Linear, name: string): Tensor {
  const w = lin.weight;
  if (w instanceof Tensor) return w;
  if (isSparseMatrix(w)) return (w as SparseMatrix).toDense();
  throw new SparsennError('ERR_ARG', `pruneModel: layer '${name}' holds a weight pruneModel cannot read`);
}

/** Groups of layers in forward order; consecutive layers reading the same input tensor form one group. */
async function forwardGroups(model: Model, names: readonly string[], probe: readonly number[]): Promise<string[][]> {
  const order: { name: string; x: Tensor }[] = [];
  const seen = new Set<string>();
  const stop = observeLinearInputs(model.linears(), names, (name, x) => {
    if (seen.has(name)) return;
    seen.add(name);
    order.push({ name, x });
  });
  try {
    await model.logits(probe);
  } finally {
    stop();
  }
  const groups: string[][] = [];
  let last: Tensor | undefined;
  for (const { name, x } of order) {
    if (x === last && groups.length > 0) groups[groups.length - 1]!.push(name);
    else groups.push([name]);
    last = x;
  }
  for (const n of names) if (!seen.has(n)) groups.push([n]); // layers the forward pass never calls
  return groups;
}

/** Runs the calibration sequences until every layer of the group has seen each one; returns the group's stats. */
async function calibrateGroup(model: Model, group: readonly string[], seqs: readonly number[][], cols: number, gram: boolean): Promise<LayerStats> {
  const stats = new LayerStats(cols, gram);
  let seenThisPass = new Set<string>();
  let lastX: Tensor | undefined;
  const stop = observeLinearInputs(model.linears(), group, (name, x) => {
    if (seenThisPass.has(name)) return;
    seenThisPass.add(name);
    if (x !== lastX) stats.observe(x.data as Float32Array, x.shape[0]!);
    lastX = x;
    if (seenThisPass.size === group.length) throw new GroupSeen();
  });
  try {
    for (const ids of seqs) {
      seenThisPass = new Set();
      lastX = undefined;
      try {
        await model.logits(ids);
      } catch (e) {
        if (!(e instanceof GroupSeen)) throw e;
      }
    }
  } finally {
    stop();
  }
  return stats;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeMatmul(x: Tensor, w: Tensor | SparseMatrix): number {
  const times: number[] = [];
  for (let i = 0; i < 23; i++) {
    const t0 = performance.now();
    matmul(x, w);
    if (i >= 3) times.push(performance.now() - t0);
  }
  return median(times);
}

/** The stored form of a pruned weight, and why. */
function store(w: Tensor, pattern: Pattern, storage: Prepared['storage'], report: PruneLayerReport): Tensor | SparseMatrix {
  if (storage === 'dense') return w;
  let sparse: SparseMatrix;
  const nmOk = pattern.kind === 'nm' && pattern.m >= 2 && pattern.m <= 32 && (pattern.m & (pattern.m - 1)) === 0;
  if (nmOk) sparse = toNm(w, { n: pattern.n, m: pattern.m });
  else {
    if (pattern.kind === 'nm') report.notes.push(`the N:M format packs power-of-two M only: ${patternName(pattern)} stored as CSR`);
    sparse = toCsr(w);
  }
  if (storage === 'sparse') return sparse;
  const x = Tensor.random([1, w.shape[1]!], 11);
  const denseMs = timeMatmul(x, w);
  let sparseMs = timeMatmul(x, sparse);
  if (!nmOk) {
    // Unstructured: the bitmap format (fewer bytes below ~94% sparsity, no gathers) against CSR, by measurement.
    const bitmap = toBitmap(w);
    const bitmapMs = timeMatmul(x, bitmap);
    if (bitmapMs < sparseMs) {
      report.notes.push(`bitmap format: its batch-1 matmul measured ${bitmapMs.toFixed(3)} ms against CSR's ${sparseMs.toFixed(3)} ms`);
      sparse = bitmap;
      sparseMs = bitmapMs;
    }
  }
  report.timing = { denseMs, sparseMs };
  if (sparseMs < denseMs) return sparse;
  report.notes.push('kept dense: its batch-1 matmul measured faster than the sparse format');
  return w;
}

export async function pruneModel(model: Model, opts: PruneModelOptions): Promise<PruneReport> {
  const started = performance.now();
  const p = check(opts);
  const o = p.o;
  if (!model || typeof (model as { linears?: unknown }).linears !== 'function')
    throw new SparsennError('ERR_ARG', 'pruneModel: model must be a loaded Model');
  const all = model.linears();
  const layers = o.layers;
  let names: string[];
  if (layers === undefined) names = [...all.keys()].filter((n) => n !== 'lm_head');
  else if (typeof layers === 'function') names = [...all.keys()].filter((n) => layers(n));
  else {
    for (const n of layers) if (!all.has(n)) throw new SparsennError('ERR_ARG', `pruneModel: the model has no linear layer '${String(n)}'`);
    names = [...layers];
  }
  if (names.length === 0) throw new SparsennError('ERR_ARG', 'pruneModel: no layers selected');

  const seqs = o.calibration
    ? calibrationSequences(o.calibration, (t) => model.tokenizer.encode(t, { bos: true }), model.config.maxSeqLen, model.config.vocabSize)
    : [];
  const groups = seqs.length > 0 ? await forwardGroups(model, names, seqs[0]!.slice(0, 8)) : names.map((n) => [n]);

  const reports: PruneLayerReport[] = [];
  const stored = new Map<string, Tensor | SparseMatrix>();
  let index = 0;
  for (const group of groups) {
    const firstLin = all.get(group[0]!)!;
    const cols = firstLin.inFeatures;
    let stats: LayerStats | undefined;
    if (seqs.length > 0) {
      o.onProgress?.({ layer: group[0]!, index, total: names.length, phase: 'calibrate' });
      // The Gram matrix (K² f64) is needed by SparseGPT and DSnoT; otherwise it only feeds the
      // reported error, so it is skipped for very wide inputs to bound memory.
      const needGram = p.method === 'sparsegpt' || o.refine === 'dsnot' || cols <= 4096;
      stats = await calibrateGroup(model, group, seqs, cols, needGram);
    }
    for (const name of group) {
      const lin = all.get(name)!;
      o.onProgress?.({ layer: name, index, total: names.length, phase: 'prune' });
      const w = denseWeight(lin, name);
      const [rows, k] = w.shape as [number, number];
      const report: PruneLayerReport = {
        name,
        shape: [rows, k],
        sparsity: 0,
        pattern: patternName(p.pattern),
        format: 'dense',
        bytes: w.bytes,
        denseBytes: rows * k * bytesPerElement(w.dtype),
        notes: [],
      };
      reports.push(report);
      try {
        checkFits(rows, k, p.pattern, 'pruneModel');
      } catch (e) {
        report.notes.push(`left dense: ${(e as Error).message}`);
        index++;
        continue;
      }
      let result: PruneResult;
      const spOpt = p.pattern.kind === 'nm' ? {} : { sparsity: p.sparsity };
      const pat = p.pattern.kind === 'nm' ? `${p.pattern.n}:${p.pattern.m}` : 'unstructured';
      switch (p.method) {
        case 'magnitude':
          result = magnitude(w, { ...spOpt, pattern: pat as PatternSpec });
          break;
        case 'random':
          result = random(w, { ...spOpt, pattern: pat as PatternSpec, seed: (o.seed ?? 1) + index });
          break;
        case 'wanda':
          result = wanda(w, stats!, { ...spOpt, pattern: pat as PatternSpec });
          break;
        case 'sparsegpt': {
          const r = await sparsegptAsync(w, stats!, {
            ...spOpt,
            pattern: pat as PatternSpec,
            blockSize: o.blockSize,
            dampening: o.dampening,
            backend: o.backend,
          });
          report.notes.push(...r.notes);
          result = r;
          break;
        }
      }
      const h = stats?.gram ?? null;
      const scale = h ? outputNorm(w, h, k) : 0;
      const relErr = (t: Tensor) => (h && scale > 0 ? reconstructionError(w, t, h, k) / scale : undefined);
      if (o.refine === 'dsnot') {
        report.errorBeforeRefine = relErr(result.weight);
        const r = dsnot(w, result, stats!, { pattern: pat as PatternSpec });
        report.swaps = r.swaps;
        result = r;
      }
      report.error = relErr(result.weight);
      report.sparsity = maskSparsity(result.mask);
      // The pruned dense weight serves the calibration of later groups; formats are chosen at the end.
      lin.setWeight(result.weight);
      stored.set(name, result.weight);
      index++;
    }
  }

  index = 0;
  for (const report of reports) {
    const w = stored.get(report.name);
    if (w instanceof Tensor) {
      o.onProgress?.({ layer: report.name, index, total: names.length, phase: 'store' });
      const s = store(w, p.pattern, p.storage, report);
      all.get(report.name)!.setWeight(s);
      report.format = s instanceof Tensor ? 'dense' : (s.format as 'csr' | 'nm' | 'bitmap');
      report.bytes = s.bytes;
    }
    index++;
  }
  let zeros = 0;
  let total = 0;
  for (const r of reports) {
    zeros += r.sparsity * r.shape[0] * r.shape[1];
    total += r.shape[0] * r.shape[1];
  }
  return {
    method: p.method,
    pattern: patternName(p.pattern),
    ...(o.refine ? { refine: o.refine } : {}),
    sparsity: total > 0 ? zeros / total : 0,
    layers: reports,
    denseBytes: reports.reduce((a, r) => a + r.denseBytes, 0),
    bytes: reports.reduce((a, r) => a + r.bytes, 0),
    ...(seqs.length > 0 ? { calibration: { sequences: seqs.length, tokens: seqs.reduce((a, s) => a + s.length, 0) } } : {}),
    seconds: (performance.now() - started) / 1000,
  };
}
