/**
 * Reference for choleskyInverseUpper: U, the upper Cholesky factor of H⁻¹
 * (H⁻¹ = UᵀU), as SparseGPT needs it, without forming H⁻¹. With J the reversal
 * permutation, JHJ = L̃L̃ᵀ (an ordinary Cholesky factorisation) gives H = ŨŨᵀ with
 * Ũ = JL̃J upper triangular, so H⁻¹ = Ũ⁻ᵀŨ⁻¹ = UᵀU with U = Ũ⁻¹ = J L̃⁻¹ J.
 * All arithmetic in f64. Returns 0, or i + 1 when pivot i is not positive
 * (H is not positive definite; u is then unspecified).
 */
export function choleskyInverseUpper(h: Float64Array, k: number, u: Float64Array): number {
  // L̃: lower Cholesky factor of JHJ, row-major.
  const l = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = h[(k - 1 - i) * k + (k - 1 - j)]!;
      for (let t = 0; t < j; t++) s -= l[i * k + t]! * l[j * k + t]!;
      if (i === j) {
        if (!(s > 0) || !Number.isFinite(s)) return i + 1;
        l[i * k + i] = Math.sqrt(s);
      } else {
        l[i * k + j] = s / l[j * k + j]!;
      }
    }
  }
  // X = L̃⁻¹ by forward substitution, one row at a time: X_i = (e_i − Σ_{t<i} L̃_it X_t) / L̃_ii.
  const x = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = i === j ? 1 : 0;
      for (let t = j; t < i; t++) s -= l[i * k + t]! * x[t * k + j]!;
      x[i * k + j] = s / l[i * k + i]!;
    }
  }
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) u[i * k + j] = j >= i ? x[(k - 1 - i) * k + (k - 1 - j)]! : 0;
  return 0;
}
