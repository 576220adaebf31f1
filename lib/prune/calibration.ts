/**
 * Calibration: the input statistics pruners need, per Linear layer, collected by
 * running the model over calibration text.
 *
 * - LayerStats accumulates Σ x_j² (Wanda's ‖X_j‖₂) and, when asked, the Gram matrix
 *   XᵀX (SparseGPT's Hessian, DSnoT's and the report's reconstruction error) over
 *   every calibration token, in f64. Memory is bounded by K² per group of layers
 *   that share an input (q/k/v, gate/up), whatever the amount of text.
 * - observeLinearInputs is the seam into a model's forward pass: it wraps the
 *   forward methods of chosen Linear instances to see their inputs, and removes the
 *   wrappers afterwards (the model code needs no hook of its own).
 */
import { SparsennError } from '../errors';
import type { Linear } from '../nn/linear';
import { matmul } from '../ops/matmul';
import { checkOptions } from '../options';
import { Tensor } from '../tensor';

export class LayerStats {
  /** Calibration tokens seen. */
  tokens = 0;
  readonly sumSq: Float64Array;
  readonly gram: Float64Array | null;

  constructor(
    readonly cols: number,
    withGram: boolean,
  ) {
    this.sumSq = new Float64Array(cols);
    this.gram = withGram ? new Float64Array(cols * cols) : null;
  }

  /** Adds the rows of x [rows, cols]. */
  observe(x: Float32Array, rows: number): void {
    const k = this.cols;
    if (x.length < rows * k) throw new SparsennError('ERR_SHAPE', `LayerStats: ${x.length} values for ${rows} rows of ${k}`);
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < k; j++) {
        const v = x[r * k + j]!;
        this.sumSq[j]! += v * v;
      }
    if (this.gram && rows > 0) {
      // XᵀX as Xᵀ·(Xᵀ)ᵀ through the dense matmul (native when available).
      const xt = new Float32Array(k * rows);
      for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) xt[j * rows + r] = x[r * k + j]!;
      const t = new Tensor(xt, [k, rows]);
      const g = matmul(t, t).data as Float32Array;
      for (let i = 0; i < g.length; i++) this.gram[i]! += g[i]!;
    }
    this.tokens += rows;
  }

  /** ‖X_j‖₂ for every input feature j: what Wanda multiplies |W_ij| by. */
  featureNorms(): Float64Array {
    return this.sumSq.map(Math.sqrt);
  }

  /** XᵀX [cols, cols] (SparseGPT's H before dampening). */
  hessian(): Float64Array {
    if (!this.gram) throw new SparsennError('ERR_ARG', 'LayerStats: this layer was calibrated without the Gram matrix');
    return this.gram;
  }
}

export interface CalibrationOptions {
  /** Calibration text: a string, several strings, or token-id sequences. */
  text: string | readonly string[] | readonly (readonly number[])[];
  /** Use exactly this many tokens (an error when the text has fewer). Default: all of it. */
  tokens?: number;
  /** Tokens per forward pass (default min(256, the model's context)). */
  seqLen?: number;
}

/** Tokenises calibration text into sequences of at most seqLen tokens, `tokens` in total. */
export function calibrationSequences(
  opts: unknown,
  encode: (text: string) => number[],
  maxSeqLen: number,
  vocabSize: number,
): number[][] {
  const fn = 'calibration';
  const o = checkOptions<CalibrationOptions>(opts, ['text', 'tokens', 'seqLen'], fn);
  const seqLen = o.seqLen ?? Math.min(256, maxSeqLen);
  if (!Number.isSafeInteger(seqLen) || seqLen < 1 || seqLen > maxSeqLen)
    throw new SparsennError('ERR_ARG', `${fn}: seqLen must be an integer in [1, ${maxSeqLen}], got ${String(o.seqLen)}`);
  const texts = typeof o.text === 'string' ? [o.text] : o.text;
  if (!Array.isArray(texts) || texts.length === 0)
    throw new SparsennError('ERR_ARG', `${fn}: text must be a non-empty string, array of strings, or array of token-id arrays`);
  const streams: number[][] = texts.map((t: unknown) => {
    if (typeof t === 'string') return encode(t);
    if (Array.isArray(t) && t.every((id) => Number.isInteger(id) && id >= 0 && id < vocabSize)) return [...(t as number[])];
    throw new SparsennError('ERR_ARG', `${fn}: each text must be a string or an array of token ids in [0, ${vocabSize})`);
  });
  const available = streams.reduce((a, s) => a + s.length, 0);
  const want = o.tokens ?? available;
  if (!Number.isSafeInteger(want) || want < 1) throw new SparsennError('ERR_ARG', `${fn}: tokens must be a positive integer`);
  if (want > available)
    throw new SparsennError('ERR_ARG', `${fn}: the calibration text has ${available} tokens, fewer than the ${want} asked for`);
  const seqs: number[][] = [];
  let left = want;
  for (const s of streams)
    for (let b = 0; b < s.length && left > 0; b += seqLen) {
      const chunk = s.slice(b, Math.min(s.length, b + seqLen, b + left));
      seqs.push(chunk);
      left -= chunk.length;
    }
  return seqs;
}

/**
 * Calls onInput(name, x) with the input of every forward call of the named
 * layers, until the returned function is called. onInput may throw to stop the
 * forward pass early (the error reaches whoever awaited the pass).
 */
export function observeLinearInputs(
  linears: ReadonlyMap<string, Linear>,
  names: readonly string[],
  onInput: (name: string, x: Tensor) => void,
): () => void {
  const layers = names.map((name) => {
    const lin = linears.get(name);
    if (!lin) throw new SparsennError('ERR_ARG', `calibration: the model has no linear layer '${name}'`);
    return [name, lin] as const;
  });
  const stops = layers.map(([name, lin]) => lin.observeInput((x) => onInput(name, x)));
  return () => stops.forEach((stop) => stop());
}
