/**
 * Public attention kernels: validate fully, pick a backend, run. `attentionDecode` is one decode
 * step (one query per head over a key selection); `attentionPrefill` runs a planned block-sparse
 * causal prefill (see block_sparse.ts for the plan).
 */
import { checkBackendChoice, selectBackend } from '../backend/select';
import type { BackendChoice } from '../backend/types';
import { checkOptions } from '../options';
import type { DecodeAttentionArgs, GroupScoresArgs, PrefillAttentionArgs } from './contract';
import { checkDecodeArgs, checkGroupScoresArgs, checkPrefillArgs } from './validate';

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
