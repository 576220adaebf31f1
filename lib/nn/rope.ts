/**
 * Rotary position embeddings, applied in place to rows of [heads · headDim] at
 * consecutive positions. Two layouts of the same rotation exist in the wild:
 * - 'interleaved' (llama2.c, Meta's original): pairs (0,1), (2,3), … of each head;
 * - 'half' (Hugging Face): pairs (i, i + headDim/2), "rotate_half".
 * Pair i always rotates by pos · theta^(−2i/headDim); converting a checkpoint between the two
 * permutes the rows of wq / wk (see models/convert.ts).
 */
export type RopeLayout = 'interleaved' | 'half';

export function applyRope(
  x: Float32Array,
  rowOffset: number,
  heads: number,
  headDim: number,
  pos: number,
  theta: number,
  layout: RopeLayout,
): void {
  const half = headDim / 2;
  for (let i = 0; i < half; i++) {
    const freq = Math.pow(theta, (-2 * i) / headDim);
    const angle = pos * freq;
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    for (let h = 0; h < heads; h++) {
      const base = rowOffset + h * headDim;
      const a = layout === 'interleaved' ? base + 2 * i : base + i;
      const b = layout === 'interleaved' ? a + 1 : a + half;
      const x0 = x[a]!;
      const x1 = x[b]!;
      x[a] = x0 * c - x1 * s;
      x[b] = x0 * s + x1 * c;
    }
  }
}

/**
 * Rotates `rows` consecutive [headDim] rows of x (from `offset`) by `delta` positions: what a
 * cache eviction needs when keys slide down by −delta slots (RoPE rotations compose, so a key
 * rotated for position p and then by delta is the key rotated for p + delta). The angles are the
 * same for every row, so they are computed once and the rows are walked in memory order.
 */
export function rotateRows(x: Float32Array, offset: number, rows: number, headDim: number, delta: number, theta: number, layout: RopeLayout): void {
  const half = headDim / 2;
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    const angle = delta * Math.pow(theta, (-2 * i) / headDim);
    cos[i] = Math.cos(angle);
    sin[i] = Math.sin(angle);
  }
  // Pair i is (2i, 2i+1) interleaved or (i, i + half) for 'half': element steps of `step`, pairs `gap` apart.
  const step = layout === 'interleaved' ? 2 : 1;
  const gap = layout === 'interleaved' ? 1 : half;
  const end = offset + rows * headDim;
  for (let base = offset; base < end; base += headDim)
    for (let i = 0, a = base; i < half; i++, a += step) {
      const c = cos[i]!;
      const s = sin[i]!;
      const x0 = x[a]!;
      const x1 = x[a + gap]!;
      x[a] = x0 * c - x1 * s;
      x[a + gap] = x0 * s + x1 * c;
    }
}
