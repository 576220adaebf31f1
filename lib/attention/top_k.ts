/** Top-k selection: the readable reference the native attention_top_k kernel matches. */
import { kthLargestInPlace } from '../kth_largest';

/** Indices of the k largest scores (ties broken by lower index), ascending. O(n) on average. */
export function topK(scores: ArrayLike<number>, k: number): Uint32Array {
  const n = scores.length;
  if (k >= n) return Uint32Array.from({ length: n }, (_, i) => i);
  if (k <= 0) return new Uint32Array(0);
  // Scores are f32 (kernel output) or exact small integers, so an f32 copy selects the same threshold.
  // NaN ranks below everything (as -Infinity), as in the native kernel.
  const key = (x: number) => (Number.isNaN(x) ? -Infinity : x);
  const copy = scores instanceof Float32Array ? scores.slice() : Float64Array.from(scores);
  for (let i = 0; i < n; i++) copy[i] = key(copy[i]!);
  const threshold = kthLargestInPlace(copy, k);
  let above = 0;
  for (let i = 0; i < n; i++) if (key(scores[i]!) > threshold) above++;
  let ties = k - above;
  const out = new Uint32Array(k);
  let j = 0;
  for (let i = 0; i < n && j < k; i++) {
    const s = key(scores[i]!);
    if (s > threshold || (s === threshold && ties-- > 0)) out[j++] = i;
  }
  return out;
}
