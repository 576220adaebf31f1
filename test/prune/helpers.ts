/** Shared data for the pruning tests: correlated calibration inputs and exact pattern checks. */
import { Tensor } from '../../lib/tensor';
import { rng } from '../helpers';

/** T calibration rows of K features mixed from a few latent factors plus noise: strongly correlated, like real activations. */
export function correlatedInputs(T: number, K: number, seed: number): Float32Array {
  const r = rng(seed);
  const factors = Math.max(2, Math.floor(K / 4));
  const mix = Float64Array.from({ length: factors * K }, () => r() * 2 - 1);
  const scale = Float64Array.from({ length: K }, () => 0.2 + 2 * r());
  const x = new Float32Array(T * K);
  for (let t = 0; t < T; t++) {
    const z = Array.from({ length: factors }, () => r() * 2 - 1);
    for (let j = 0; j < K; j++) {
      let v = 0.1 * (r() * 2 - 1);
      for (let f = 0; f < factors; f++) v += z[f]! * mix[f * K + j]!;
      x[t * K + j] = v * scale[j]!;
    }
  }
  return x;
}

/** XᵀX in f64. */
export function gram(x: Float32Array, T: number, K: number): Float64Array {
  const h = new Float64Array(K * K);
  for (let t = 0; t < T; t++)
    for (let i = 0; i < K; i++) {
      const xi = x[t * K + i]!;
      for (let j = 0; j < K; j++) h[i * K + j]! += xi * x[t * K + j]!;
    }
  return h;
}

/** ‖W Xᵀ − Ŵ Xᵀ‖_F computed directly from X (independent of the library's H-based formula). */
export function outputError(w: Tensor, wp: Tensor, x: Float32Array, T: number): number {
  const [N, K] = w.shape as [number, number];
  const a = w.toFloat32();
  const b = wp.toFloat32();
  let s = 0;
  for (let t = 0; t < T; t++)
    for (let n = 0; n < N; n++) {
      let d = 0;
      for (let k = 0; k < K; k++) d += (a[n * K + k]! - b[n * K + k]!) * x[t * K + k]!;
      s += d * d;
    }
  return Math.sqrt(s);
}

export function zeros(mask: Uint8Array): number {
  let z = 0;
  for (const v of mask) if (!v) z++;
  return z;
}

/** Throws unless every group of m consecutive inputs of every row keeps exactly n (a last partial group of w: w − ⌊(m − n)·w/m⌋). */
export function expectNm(mask: Uint8Array, rows: number, cols: number, n: number, m: number): void {
  for (let r = 0; r < rows; r++)
    for (let g = 0; g < cols; g += m) {
      const w = Math.min(m, cols - g);
      const want = w === m ? n : w - Math.floor(((m - n) * w) / m);
      let kept = 0;
      for (let c = g; c < g + w; c++) kept += mask[r * cols + c]!;
      if (kept !== want) throw new Error(`row ${r}, group at ${g}: ${kept} kept, want ${want} of ${w}`);
    }
}

/** Throws unless the weight is zero exactly where the mask is. */
export function expectMasked(w: Tensor, mask: Uint8Array): void {
  const v = w.toFloat32();
  for (let i = 0; i < v.length; i++) if (!mask[i] && v[i] !== 0) throw new Error(`pruned weight ${i} is ${v[i]}, not 0`);
}
