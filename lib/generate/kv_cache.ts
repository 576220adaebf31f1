/**
 * KV cache of one sequence: per layer, keys and values laid out [kvHeads, capacity, headDim]
 * (f32), so the keys one head reads are contiguous. Grows by doubling, up to maxCapacity
 * (the model's context length), so short requests do not pay for the full context up front.
 */
import { SparsennError } from '../errors';

export class KvCache {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly maxCapacity: number;
  private cap: number;
  /** Number of positions written (the next position to write). */
  length = 0;
  keys: Float32Array[];
  values: Float32Array[];

  constructor(layers: number, kvHeads: number, headDim: number, maxCapacity: number, initialCapacity = 64) {
    this.layers = layers;
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.maxCapacity = maxCapacity;
    this.cap = Math.max(1, Math.min(initialCapacity, maxCapacity));
    this.keys = Array.from({ length: layers }, () => new Float32Array(kvHeads * this.cap * headDim));
    this.values = Array.from({ length: layers }, () => new Float32Array(kvHeads * this.cap * headDim));
  }

  get capacity(): number {
    return this.cap;
  }

  /** Makes room for positions [0, n); throws when n exceeds the context length. */
  reserve(n: number): void {
    if (n <= this.cap) return;
    if (n > this.maxCapacity)
      throw new SparsennError('ERR_ARG', `sequence of ${n} tokens exceeds the model's context length ${this.maxCapacity}`);
    let next = this.cap;
    while (next < n) next *= 2;
    next = Math.min(next, this.maxCapacity);
    const grow = (old: Float32Array): Float32Array => {
      const a = new Float32Array(this.kvHeads * next * this.headDim);
      const row = this.cap * this.headDim;
      for (let h = 0; h < this.kvHeads; h++) a.set(old.subarray(h * row, (h + 1) * row), h * next * this.headDim);
      return a;
    };
    this.keys = this.keys.map(grow);
    this.values = this.values.map(grow);
    this.cap = next;
  }

  /** Offset of (head, pos) inside a layer's key or value array. */
  offset(head: number, pos: number): number {
    return (head * this.cap + pos) * this.headDim;
  }

  /** Writes the keys and values of one position; k and v are [kvHeads · headDim] rows starting at src. */
  write(layer: number, pos: number, k: Float32Array, v: Float32Array, src: number): void {
    const kl = this.keys[layer]!;
    const vl = this.values[layer]!;
    const hd = this.headDim;
    for (let h = 0; h < this.kvHeads; h++) {
      const o = this.offset(h, pos);
      kl.set(k.subarray(src + h * hd, src + (h + 1) * hd), o);
      vl.set(v.subarray(src + h * hd, src + (h + 1) * hd), o);
    }
  }

  /** Bytes held. */
  get bytes(): number {
    return 2 * this.layers * this.kvHeads * this.cap * this.headDim * 4;
  }
}
