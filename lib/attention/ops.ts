/**
 * Public attention kernels: validate fully, pick a backend, run. `attentionDecode` is one decode
 * step (one query per head over a key selection); `attentionPrefill` runs a planned block-sparse
 * causal prefill (see block_sparse.ts for the plan).
 */
import { checkBackendChoice, selectBackend } from '../backend/select';
import type { BackendChoice } from '../backend/types';
import { checkOptions } from '../options';
import type { DecodeAttentionArgs, GroupScoresArgs, PrefillAttentionArgs, TopKArgs } from './contract';
import { checkDecodeArgs, checkGroupScoresArgs, checkPrefillArgs, checkTopKArgs } from './validate';
import type { LabelSelectArgs, LabelSelectDecodeArgs, LabelUpdateArgs, QuestPageBoundsArgs, QuestSelectArgs, QuestSelectDecodeArgs } from './selection_contract';
import { checkLabelSelectArgs, checkLabelSelectDecodeArgs, checkLabelUpdateArgs, checkQuestPageBoundsArgs, checkQuestSelectArgs, checkQuestSelectDecodeArgs } from './validate_select';

export interface AttentionKernelOptions {
  backend?: BackendChoice;
}

const KERNEL_OPTIONS = ['backend'] as const;

function backendFor(opts: unknown, fn: string) {
  const o = checkOptions<AttentionKernelOptions>(opts, KERNEL_OPTIONS, fn);
  return selectBackend(checkBackendChoice(o.backend));
}

/** Synchronous decode attention: writes a.out. */
export function attentionDecode(a: DecodeAttentionArgs, opts?: AttentionKernelOptions): void {
  const backend = backendFor(opts, 'attentionDecode');
  checkDecodeArgs(a);
  backend.attentionDecode(a);
}

export async function attentionDecodeAsync(a: DecodeAttentionArgs, opts?: AttentionKernelOptions): Promise<void> {
  const backend = backendFor(opts, 'attentionDecodeAsync');
  checkDecodeArgs(a);
  await backend.attentionDecodeAsync(a);
}

/** Synchronous block-sparse causal prefill attention: writes a.out. */
export function attentionPrefill(a: PrefillAttentionArgs, opts?: AttentionKernelOptions): void {
  const backend = backendFor(opts, 'attentionPrefill');
  checkPrefillArgs(a);
  if (a.T > 0) backend.attentionPrefill(a);
}

export async function attentionPrefillAsync(a: PrefillAttentionArgs, opts?: AttentionKernelOptions): Promise<void> {
  const backend = backendFor(opts, 'attentionPrefillAsync');
  checkPrefillArgs(a);
  if (a.T > 0) await backend.attentionPrefillAsync(a);
}

/** Group-max selection scores (see GroupScoresArgs): what Quest, Double Sparsity and TidalDecode rank by. */
export function attentionGroupScores(a: GroupScoresArgs, opts?: AttentionKernelOptions): void {
  const backend = backendFor(opts, 'attentionGroupScores');
  checkGroupScoresArgs(a);
  if (a.rows.length > 0) backend.attentionGroupScores(a);
}

/** Row-wise top-k (see TopKArgs): the token or page choice of Double Sparsity, TidalDecode and Quest. */
export function attentionTopK(a: TopKArgs, opts?: AttentionKernelOptions): void {
  const backend = backendFor(opts, 'attentionTopK');
  checkTopKArgs(a);
  if (a.rows > 0 && a.k > 0) backend.attentionTopK(a);
}

/** Top-k indices of each row, one Uint32Array per row. */
export function topKRows(scores: Float32Array, rows: number, n: number, k: number, opts?: AttentionKernelOptions): Uint32Array[] {
  const kk = Math.min(k, n);
  const out = new Uint32Array(rows * kk);
  attentionTopK({ scores, rows, n, k: kk, out }, opts);
  return Array.from({ length: rows }, (_, r) => out.subarray(r * kk, (r + 1) * kk));
}

/** Quest: min/max bounds of newly completed pages (see QuestPageBoundsArgs). */
export function questPageBounds(a: QuestPageBoundsArgs, opts?: AttentionKernelOptions): void {
  const backend = backendFor(opts, 'questPageBounds');
  checkQuestPageBoundsArgs(a);
  if (a.pageEnd > a.pageBegin) backend.attentionQuestPageBounds(a);
}

/** Quest: one layer's page choice, every KV head in one call (see QuestSelectArgs). */
export function questSelect(a: QuestSelectArgs, opts?: AttentionKernelOptions): void {
  const backend = backendFor(opts, 'questSelect');
  checkQuestSelectArgs(a);
  backend.attentionQuestSelect(a);
}

/** Double Sparsity: label rows of newly cached tokens (see LabelUpdateArgs). */
export function labelCacheUpdate(a: LabelUpdateArgs, opts?: AttentionKernelOptions): void {
  const backend = backendFor(opts, 'labelCacheUpdate');
  checkLabelUpdateArgs(a);
  if (a.end > a.begin) backend.attentionLabelUpdate(a);
}

/** Double Sparsity: one layer's token choice, every KV head in one call (see LabelSelectArgs). */
export function labelSelect(a: LabelSelectArgs, opts?: AttentionKernelOptions): void {
  const backend = backendFor(opts, 'labelSelect');
  checkLabelSelectArgs(a);
  backend.attentionLabelSelect(a);
}

/** Quest's page choice and the decode attention over it, in one call (see QuestSelectDecodeArgs). */
export function questSelectDecode(a: QuestSelectDecodeArgs, opts?: AttentionKernelOptions): void {
  const backend = backendFor(opts, 'questSelectDecode');
  checkQuestSelectDecodeArgs(a);
  backend.attentionQuestSelectDecode(a);
}

/** Double Sparsity's token choice and the decode attention over it, in one call (see LabelSelectDecodeArgs). */
export function labelSelectDecode(a: LabelSelectDecodeArgs, opts?: AttentionKernelOptions): void {
  const backend = backendFor(opts, 'labelSelectDecode');
  checkLabelSelectDecodeArgs(a);
  backend.attentionLabelSelectDecode(a);
}
