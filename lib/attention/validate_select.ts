/**
 * Checks the fused Quest / Double Sparsity selection calls (selection_contract.ts) before a backend
 * runs them (the native binding repeats every check). O(1) per call apart from the label channels.
 */
import { SparsennError } from '../errors';
import type { KvCacheView } from './contract';
import type { LabelRows, LabelSelectArgs, LabelSelectDecodeArgs, LabelUpdateArgs, QuestPageBoundsArgs, QuestSelectArgs, QuestSelectDecodeArgs, TiledRows } from './selection_contract';
import { codeColumns, SELECT_TILE, selectScoresLength } from './selection_contract';
import { QUEST_MAX_HEAD_DIM } from './quest_query';

/** Label widths up to this keep Double Sparsity's integer scores exact in int32 (as Quest's head dims). */
const LABEL_MAX_WIDTH = QUEST_MAX_HEAD_DIM;
import { checkF32, checkKv, checkScale } from './validate';

function int(x: unknown, what: string, min = 0): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min || x >= 2 ** 31)
    throw new SparsennError('ERR_SHAPE', `attention selection: ${what} must be an integer in [${min}, 2^31), got ${String(x)}`);
  return x;
}

function range(begin: number, end: number, limit: number, what: string): void {
  if (begin > end || end > limit) throw new SparsennError('ERR_ARG', `attention selection: ${what} [${begin}, ${end}) must be an ordered range within ${limit}`);
}

function checkTiled(r: TiledRows, what: string, kvHeads: number, width: number, kind: 'bf16' | 'int8', columns = width): void {
  const want = kind === 'bf16' ? Uint16Array : Int8Array;
  if (typeof r !== 'object' || r === null || !(r.data instanceof want))
    throw new SparsennError('ERR_DTYPE', `attention selection: ${what}.data must be a ${want.name} (${kind})`);
  const cap = int(r.capacity, `${what}.capacity`);
  if (cap % SELECT_TILE !== 0) throw new SparsennError('ERR_SHAPE', `attention selection: ${what}.capacity must be a multiple of ${SELECT_TILE}, got ${cap}`);
  if (r.kvHeads !== kvHeads || r.width !== width)
    throw new SparsennError('ERR_SHAPE', `attention selection: ${what} must have ${kvHeads} heads of width ${width}, got ${r.kvHeads} of ${r.width}`);
  if (r.data.length < kvHeads * cap * columns)
    throw new SparsennError('ERR_SHAPE', `attention selection: ${what}.data is shorter than kvHeads·capacity·${columns === width ? 'width' : 'ceil(width / 2)'}`);
  if (kind === 'int8') {
    const scales = (r as { scales?: unknown }).scales;
    if (!(scales instanceof Float32Array) || scales.length < kvHeads * cap)
      throw new SparsennError('ERR_SHAPE', `attention selection: ${what}.scales must be a Float32Array of at least kvHeads·capacity`);
  }
}

function checkQueries(q: Float32Array, heads: number, kvHeads: number, headDim: number): void {
  int(heads, 'heads', 1);
  if (heads % kvHeads !== 0) throw new SparsennError('ERR_SHAPE', `attention selection: heads (${heads}) must be a multiple of kvHeads (${kvHeads})`);
  if (!(q instanceof Float32Array) || q.length < heads * headDim)
    throw new SparsennError('ERR_SHAPE', `attention selection: q must be a Float32Array of at least heads·headDim = ${heads * headDim}`);
}

function checkOut(scores: Float32Array | undefined, items: Uint32Array, kvHeads: number, n: number, k: number): void {
  if (scores !== undefined && (!(scores instanceof Float32Array) || scores.length < selectScoresLength(kvHeads, n)))
    throw new SparsennError('ERR_SHAPE', `attention selection: scores, when given, must be a Float32Array of at least ${selectScoresLength(kvHeads, n)}`);
  if (!(items instanceof Uint32Array) || items.length < kvHeads * (k + 1))
    throw new SparsennError('ERR_SHAPE', `attention selection: items must be a Uint32Array of at least ${kvHeads * (k + 1)}`);
}

function checkChannels(channels: Uint32Array, kvHeads: number, width: number, headDim: number): void {
  if (!(channels instanceof Uint32Array) || channels.length < kvHeads * width)
    throw new SparsennError('ERR_SHAPE', `attention selection: channels must be a Uint32Array of at least kvHeads·width = ${kvHeads * width}`);
  for (let i = 0; i < kvHeads * width; i++)
    if (channels[i]! >= headDim) throw new SparsennError('ERR_ARG', `attention selection: label channel ${channels[i]} is not below headDim ${headDim}`);
}

export function checkQuestPageBoundsArgs(a: QuestPageBoundsArgs): void {
  checkKv(a.kv, a.kv.kvHeads);
  const page = int(a.pageSize, 'pageSize', 1);
  checkTiled(a.bounds, 'bounds', a.kv.kvHeads, 2 * a.kv.headDim, 'int8');
  range(int(a.pageBegin, 'pageBegin'), int(a.pageEnd, 'pageEnd'), Math.min(a.bounds.capacity, Math.floor(a.kv.length / page)), 'pages');
}

export function checkQuestSelectArgs(a: QuestSelectArgs): void {
  const b = a.bounds;
  const kvHeads = int(b?.kvHeads, 'bounds.kvHeads', 1);
  const width = int(b.width, 'bounds.width', 2);
  if (width % 2 !== 0) throw new SparsennError('ERR_SHAPE', 'attention selection: bounds.width must be 2·headDim');
  if (width / 2 > QUEST_MAX_HEAD_DIM) throw new SparsennError('ERR_SHAPE', `attention selection: Quest headDim must be at most ${QUEST_MAX_HEAD_DIM}, got ${width / 2}`);
  checkTiled(b, 'bounds', kvHeads, width, 'int8');
  checkQueries(a.q, a.heads, kvHeads, width / 2);
  range(0, int(a.current, 'current'), b.capacity, 'scored pages');
  if (int(a.keep, 'keep') > a.current) throw new SparsennError('ERR_ARG', `attention selection: keep (${a.keep}) must not exceed current (${a.current})`);
  checkOut(a.scores, a.items, kvHeads, a.current, a.keep);
}

function checkLabels(l: LabelRows, kvHeads: number, width: number): void {
  if (l.bits !== 4 && l.bits !== 8) throw new SparsennError('ERR_ARG', `attention selection: labels.bits must be 4 or 8, got ${String(l.bits)}`);
  checkTiled(l, 'labels', kvHeads, width, 'int8', codeColumns(l));
}

export function checkLabelUpdateArgs(a: LabelUpdateArgs): void {
  checkKv(a.kv, a.kv.kvHeads);
  const width = int(a.labels?.width, 'labels.width', 1);
  checkChannels(a.channels, a.kv.kvHeads, width, a.kv.headDim);
  checkLabels(a.labels, a.kv.kvHeads, width);
  range(int(a.begin, 'begin'), int(a.end, 'end'), Math.min(a.labels.capacity, a.kv.length), 'tokens');
}

export function checkLabelSelectArgs(a: LabelSelectArgs): void {
  const l = a.labels;
  const kvHeads = int(l?.kvHeads, 'labels.kvHeads', 1);
  const width = int(l.width, 'labels.width', 1);
  const D = int(a.headDim, 'headDim', 1);
  if (width > LABEL_MAX_WIDTH) throw new SparsennError('ERR_SHAPE', `attention selection: labels.width must be at most ${LABEL_MAX_WIDTH}, got ${width}`);
  checkLabels(l, kvHeads, width);
  checkQueries(a.q, a.heads, kvHeads, D);
  checkChannels(a.channels, kvHeads, width, D);
  range(0, int(a.n, 'n'), l.capacity, 'scored tokens');
  if (int(a.k, 'k') > a.n) throw new SparsennError('ERR_ARG', `attention selection: k (${a.k}) must not exceed n (${a.n})`);
  checkOut(a.scores, a.items, kvHeads, a.n, a.k);
}

/** The cache and output of a fused selection + decode: the summaries' heads and head dim, the output's size, the scale. */
function checkFusedDecode(kv: KvCacheView, kvHeads: number, headDim: number, heads: number, out: Float32Array, scale: number): void {
  checkKv(kv, heads);
  if (kv.kvHeads !== kvHeads || kv.headDim !== headDim)
    throw new SparsennError('ERR_SHAPE', `attention selection: kv (${kv.kvHeads} heads of ${kv.headDim}) must match the summaries' kvHeads (${kvHeads}) and headDim (${headDim})`);
  checkF32(out, 'out', heads * headDim);
  checkScale(scale);
}

export function checkLabelSelectDecodeArgs(a: LabelSelectDecodeArgs): void {
  checkLabelSelectArgs(a);
  checkFusedDecode(a.kv, a.labels.kvHeads, a.headDim, a.heads, a.out, a.scale);
  if (a.n >= a.kv.length) throw new SparsennError('ERR_ARG', `attention selection: token n (${a.n}) must be in the cache (length ${a.kv.length})`);
}

export function checkQuestSelectDecodeArgs(a: QuestSelectDecodeArgs): void {
  checkQuestSelectArgs(a);
  checkFusedDecode(a.kv, a.bounds.kvHeads, a.bounds.width / 2, a.heads, a.out, a.scale);
  const page = int(a.pageSize, 'pageSize', 1);
  if (a.current * page >= a.kv.length)
    throw new SparsennError('ERR_ARG', `attention selection: page current (${a.current}) must start inside the cache (length ${a.kv.length})`);
}
