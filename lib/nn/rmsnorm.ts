/** RMSNorm (Llama): y = x / sqrt(mean(x²) + eps) · g, row by row over [rows, dim]. */
export function rmsnorm(x: Float32Array, weight: Float32Array, eps: number, out = new Float32Array(x.length)): Float32Array {
  const dim = weight.length;
  for (let r = 0; r < x.length; r += dim) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r + i]! * x[r + i]!;
    const scale = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) out[r + i] = x[r + i]! * scale * weight[i]!;
  }
  return out;
}
