/** Test fixtures for attention: random KV caches in either layout and random selections. */
import type { KvCacheView, KvSelection } from '../../lib/attention/contract';
import type { DType } from '../../lib/dtype';
import { Tensor } from '../../lib/tensor';
import { randInt } from '../helpers';

/** A random cache of `length` valid tokens inside `capacity`, head-major or token-major. */
export function randomKv(
  kvHeads: number,
  length: number,
  headDim: number,
  dtype: DType,
  seed: number,
  layout: 'head' | 'token' = 'head',
  capacity = length,
): KvCacheView {
  const n = kvHeads * capacity * headDim;
  const k = Tensor.random([n], seed).to(dtype).data;
  const v = Tensor.random([n], seed + 7777).to(dtype).data;
  const [headStride, tokenStride] = layout === 'head' ? [capacity * headDim, headDim] : [headDim, kvHeads * headDim];
  return { k, v, dtype, kvHeads, length, headDim, headStride, tokenStride };
}

/** Builds a CSR selection from per-head entry lists. */
export function selectionOf(kind: 'ranges' | 'indices' | 'pages', perHead: number[][], pageSize = 16): KvSelection {
  const offsets = new Uint32Array(perHead.length + 1);
  const per = kind === 'ranges' ? 2 : 1;
  perHead.forEach((e, h) => (offsets[h + 1] = offsets[h]! + e.length / per));
  const items = Uint32Array.from(perHead.flat());
  return kind === 'pages' ? { kind, offsets, items, pageSize } : { kind, offsets, items };
}

/** A random selection of each kind over a cache of `length` tokens (may include empty heads). */
export function randomSelection(r: () => number, kind: 'all' | 'ranges' | 'indices' | 'pages', kvHeads: number, length: number, pageSize = 16): KvSelection {
  if (kind === 'all') return { kind };
  const perHead: number[][] = [];
  for (let h = 0; h < kvHeads; h++) {
    const e: number[] = [];
    if (kind === 'ranges') {
      // sinks + window, plus a random middle span
      const sinks = randInt(r, 0, Math.min(4, length));
      const win = randInt(r, 1, length - sinks);
      e.push(0, sinks);
      const mid = randInt(r, sinks, length - win);
      e.push(mid, randInt(r, mid, length - win));
      e.push(length - win, length);
    } else if (kind === 'indices') {
      for (let t = 0; t < length; t++) if (r() < 0.3 || t === length - 1) e.push(t);
    } else {
      const pages = Math.ceil(length / pageSize);
      for (let p = 0; p < pages; p++) if (r() < 0.4 || p === pages - 1) e.push(p);
    }
    perHead.push(e);
  }
  return selectionOf(kind, perHead, pageSize);
}
