/** Numerically stable softmax over x[begin, end), in place. */
export function softmax(x: Float32Array | Float64Array, begin = 0, end = x.length): void {
  let max = -Infinity;
  for (let i = begin; i < end; i++) if (x[i]! > max) max = x[i]!;
  let sum = 0;
  for (let i = begin; i < end; i++) {
    const e = Math.exp(x[i]! - max);
    x[i] = e;
    sum += e;
  }
  for (let i = begin; i < end; i++) x[i]! /= sum;
}
