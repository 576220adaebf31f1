/**
 * Checks an attention call completely before any backend runs it (the native binding repeats
 * these checks), so a bad selection or a short buffer is a SparsennError, never a wild read.
 */
import { checkDType } from '../dtype';
import { SparsennError } from '../errors';
import type { BlockMask, DecodeAttentionArgs, GroupScoresArgs, KvSelection, KvCacheView, PrefillAttentionArgs, TopKArgs } from './contract';

function int(x: unknown, what: string, min = 0): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min)
    throw new SparsennError('ERR_SHAPE', `attention: ${what} must be an integer >= ${min}, got ${String(x)}`);
  return x;
}

function u32(x: unknown, what: string): Uint32Array {
  if (!(x instanceof Uint32Array)) throw new SparsennError('ERR_DTYPE', `attention: ${what} must be a Uint32Array`);
  return x;
}

export function checkKv(kv: KvCacheView, heads: number): void {
  if (typeof kv !== 'object' || kv === null) throw new SparsennError('ERR_ARG', 'attention: kv must be a KvCacheView');
  const dtype = checkDType(kv.dtype, 'kv.dtype');
  const D = int(kv.headDim, 'kv.headDim', 1);
  const kvHeads = int(kv.kvHeads, 'kv.kvHeads', 1);
  const length = int(kv.length, 'kv.length');
  if (length >= 2 ** 31) throw new SparsennError('ERR_SHAPE', 'attention: kv.length must be below 2^31');
  const hs = int(kv.headStride, 'kv.headStride');
  const ts = int(kv.tokenStride, 'kv.tokenStride');
  if (heads % kvHeads !== 0)
    throw new SparsennError('ERR_SHAPE', `attention: heads (${heads}) must be a multiple of kv.kvHeads (${kvHeads})`);
  const need = length > 0 ? (kvHeads - 1) * hs + (length - 1) * ts + D : 0;
  const want = dtype === 'f32' ? Float32Array : Uint16Array;
  for (const [name, arr] of [['k', kv.k], ['v', kv.v]] as const) {
    if (!(arr instanceof want)) throw new SparsennError('ERR_DTYPE', `attention: kv.${name} must be a ${want.name} for ${dtype}`);
    if (arr.length < need)
      throw new SparsennError('ERR_SHAPE', `attention: kv.${name} has ${arr.length} elements, the view addresses ${need}`);
  }
}

/** The selection's form and offsets, O(kvHeads); checkSelectionEntries checks the entries. */
export function checkSelection(sel: KvSelection, kvHeads: number): void {
  if (typeof sel !== 'object' || sel === null) throw new SparsennError('ERR_ARG', 'attention: selection must be an object');
  if (sel.kind === 'all') return;
  if (sel.kind !== 'ranges' && sel.kind !== 'indices' && sel.kind !== 'pages')
    throw new SparsennError('ERR_ARG', `attention: unknown selection kind '${String((sel as { kind: unknown }).kind)}'`);
  const off = u32(sel.offsets, 'selection.offsets');
  const items = u32(sel.items, 'selection.items');
  if (off.length < kvHeads + 1) throw new SparsennError('ERR_SHAPE', `attention: selection.offsets needs ${kvHeads + 1} entries`);
  if (off[0] !== 0) throw new SparsennError('ERR_ARG', 'attention: selection offsets must start at 0');
  for (let h = 0; h < kvHeads; h++)
    if (off[h + 1]! < off[h]!) throw new SparsennError('ERR_ARG', 'attention: selection offsets must not decrease');
  const n = off[kvHeads]!;
  const per = sel.kind === 'ranges' ? 2 : 1;
  if (n * per > items.length) throw new SparsennError('ERR_SHAPE', 'attention: selection items hold fewer entries than the offsets promise');
  if (sel.kind === 'pages') int(sel.pageSize, 'selection.pageSize', 1);
}

/**
 * Every entry of a selection (checkSelection passed) inside the cache. O(entries): the native
 * binding runs the same checks in C++, so the ops leave this to the backend (the js reference calls
 * it), and a policy's thousands of tokens per step are not checked twice.
 */
export function checkSelectionEntries(sel: KvSelection, kvHeads: number, length: number): void {
  if (sel.kind === 'all') return;
  const items = sel.items;
  const n = sel.offsets[kvHeads]!;
  const page = sel.kind === 'pages' ? sel.pageSize : 1;
  for (let e = 0; e < n; e++) {
    if (sel.kind === 'ranges') {
      const b = items[2 * e]!, end = items[2 * e + 1]!;
      if (b > end || end > length)
        throw new SparsennError('ERR_ARG', `attention: selected range [${b}, ${end}) is not inside the cache of ${length} tokens`);
    } else if (sel.kind === 'indices') {
      if (items[e]! >= length) throw new SparsennError('ERR_ARG', `attention: selected token ${items[e]} is past the cache length ${length}`);
    } else if (items[e]! * page >= length) {
      throw new SparsennError('ERR_ARG', `attention: selected page ${items[e]} starts past the cache length ${length}`);
    }
  }
}

export function checkScale(scale: unknown): void {
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0)
    throw new SparsennError('ERR_ARG', 'attention: scale must be a positive finite number');
}

export function checkF32(x: unknown, what: string, n: number): void {
  if (!(x instanceof Float32Array)) throw new SparsennError('ERR_DTYPE', `attention: ${what} must be a Float32Array`);
  if (x.length < n) throw new SparsennError('ERR_SHAPE', `attention: ${what} needs ${n} elements, has ${x.length}`);
}

export function checkDecodeArgs(a: DecodeAttentionArgs): void {
  const heads = int(a.heads, 'heads', 1);
  checkKv(a.kv, heads);
  checkF32(a.q, 'q', heads * a.kv.headDim);
  checkF32(a.out, 'out', heads * a.kv.headDim);
  checkSelection(a.selection, a.kv.kvHeads);
  checkScale(a.scale);
}

export function checkBlockMask(mask: BlockMask, T: number, heads: number, length: number): void {
  const mh = int(mask.maskHeads, 'mask.maskHeads', 1);
  if (mh !== 1 && mh !== heads) throw new SparsennError('ERR_SHAPE', 'attention: mask.maskHeads must be 1 or heads');
  const bq = int(mask.blockQ, 'mask.blockQ', 1);
  const bk = int(mask.blockK, 'mask.blockK', 1);
  const qBlocks = Math.ceil(T / bq);
  const ip = u32(mask.indptr, 'mask.indptr');
  const kb = u32(mask.kvBlocks, 'mask.kvBlocks');
  if (ip.length < mh * qBlocks + 1) throw new SparsennError('ERR_SHAPE', `attention: mask.indptr needs ${mh * qBlocks + 1} entries`);
  if (ip[0] !== 0) throw new SparsennError('ERR_ARG', 'attention: mask.indptr must start at 0');
  for (let i = 0; i < mh * qBlocks; i++)
    if (ip[i + 1]! < ip[i]!) throw new SparsennError('ERR_ARG', 'attention: mask.indptr must not decrease');
  const n = ip[mh * qBlocks]!;
  if (n > kb.length) throw new SparsennError('ERR_SHAPE', 'attention: mask.kvBlocks is shorter than indptr says');
  for (let i = 0; i < n; i++)
    if (kb[i]! * bk >= length) throw new SparsennError('ERR_ARG', `attention: key block ${kb[i]} starts past the cache length`);
}

export function checkPrefillArgs(a: PrefillAttentionArgs): void {
  const T = int(a.T, 'T');
  const heads = int(a.heads, 'heads', 1);
  checkKv(a.kv, heads);
  const pos0 = int(a.pos0, 'pos0');
  if (pos0 + T > a.kv.length)
    throw new SparsennError('ERR_SHAPE', 'attention: pos0 + T must not exceed kv.length (append the new keys first)');
  checkF32(a.q, 'q', T * heads * a.kv.headDim);
  checkF32(a.out, 'out', T * heads * a.kv.headDim);
  checkBlockMask(a.mask, T, heads, a.kv.length);
  checkScale(a.scale);
}

export function checkGroupScoresArgs(a: GroupScoresArgs): void {
  const heads = int(a.heads, 'heads', 1);
  checkKv({ ...a.rows, v: a.rows.k }, heads);
  checkF32(a.q, 'q', heads * a.rows.headDim);
  checkF32(a.out, 'out', a.rows.kvHeads * a.rows.length);
}

export function checkTopKArgs(a: TopKArgs): void {
  const rows = int(a.rows, 'rows');
  const n = int(a.n, 'n');
  const k = int(a.k, 'k');
  if (k > n) throw new SparsennError('ERR_ARG', `attention: top-k needs k <= n, got k=${k}, n=${n}`);
  checkF32(a.scores, 'scores', rows * n);
  const out = u32(a.out, 'out');
  if (out.length < rows * k) throw new SparsennError('ERR_SHAPE', `attention: top-k out needs ${rows * k} entries, has ${out.length}`);
}
