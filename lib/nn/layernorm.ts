/** LayerNorm (GPT-2): y = (x − mean) / sqrt(var + eps) · g + b, row by row over [rows, dim]. */
export function layernorm(
  x: Float32Array,
  weight: Float32Array,
  bias: Float32Array,
  eps: number,
  out = new Float32Array(x.length),
): Float32Array {
  const dim = weight.length;
  for (let r = 0; r < x.length; r += dim) {
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[r + i]!;
    mean /= dim;
    let v = 0;
    for (let i = 0; i < dim; i++) v += (x[r + i]! - mean) ** 2;
    const scale = 1 / Math.sqrt(v / dim + eps);
    for (let i = 0; i < dim; i++) out[r + i] = (x[r + i]! - mean) * scale * weight[i]! + bias[i]!;
  }
  return out;
}
