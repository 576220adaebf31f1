/** Element-wise activations of the MLP blocks (in place: they run on fresh matmul outputs). */

/** SiLU (swish): x · sigmoid(x). */
export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** SwiGLU gate, in place: gate[i] = silu(gate[i]) · up[i]. */
export function swiglu(gate: Float32Array, up: Float32Array): Float32Array {
  for (let i = 0; i < gate.length; i++) gate[i] = silu(gate[i]!) * up[i]!;
  return gate;
}

/** GELU, tanh approximation (GPT-2's "gelu_new"), in place. */
export function geluTanh(x: Float32Array): Float32Array {
  const c = Math.sqrt(2 / Math.PI);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    x[i] = 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v * v * v)));
  }
  return x;
}
