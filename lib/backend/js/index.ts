/** The pure-TypeScript backend: the readable reference for every op, and the fallback when no native binary loads. */
import type { Backend } from '../types';
import { checkSelectionEntries } from '../../attention/validate';
import { attentionDecodeRef, attentionGroupScoresRef, attentionPrefillRef, attentionTopKRef } from './attention';
import { labelSelectDecodeRef, labelSelectRef, labelUpdateRef, questPageBoundsRef, questSelectDecodeRef, questSelectRef } from './attention_select';
import { choleskyInverseUpper } from './cholesky';
import { matmulDenseRange } from './matmul';
import { matmulInputSparseRange } from './matmul_input_sparse';
import { matmulNmRange } from './spmm_nm';
import { sparsegptSweep } from './sparsegpt';
import { matmulBitmapRange } from './spmm_bitmap';
import { matmulBsrRange } from './spmm_bsr';
import { matmulCsrRange } from './spmm_csr';
import { runInSlices } from './yielding';

export const jsBackend: Backend = {
  name: 'js',
  matmul(x, w, y) {
    matmulDenseRange(x, w, y, 0, w.shape[0]!);
  },
  matmulAsync(x, w, y) {
    const cost = x.shape[0]! * x.shape[1]!;
    return runInSlices(w.shape[0]!, cost, (b, e) => matmulDenseRange(x, w, y, b, e));
  },
  // The sparse paths re-validate w: its arrays are plain typed arrays a caller could have edited.
  matmulCsr(x, w, y) {
    w.validate();
    matmulCsrRange(x, w, y, 0, w.shape[0]);
  },
  matmulCsrAsync(x, w, y) {
    w.validate();
    const cost = x.shape[0]! * Math.max(1, w.nnz / Math.max(1, w.shape[0]));
    return runInSlices(w.shape[0], cost, (b, e) => matmulCsrRange(x, w, y, b, e));
  },
  matmulBsr(x, w, y) {
    w.validate();
    matmulBsrRange(x, w, y, 0, w.blockGrid[0]);
  },
  matmulBsrAsync(x, w, y) {
    w.validate();
    const blockRows = w.blockGrid[0];
    const cost = x.shape[0]! * Math.max(1, w.nnz / Math.max(1, blockRows));
    return runInSlices(blockRows, cost, (b, e) => matmulBsrRange(x, w, y, b, e));
  },
  attentionDecode(a) {
    checkSelectionEntries(a.selection, a.kv.kvHeads, a.kv.length);
    attentionDecodeRef(a);
  },
  attentionDecodeAsync(a) {
    checkSelectionEntries(a.selection, a.kv.kvHeads, a.kv.length);
    return runInSlices(a.heads, a.kv.length * a.kv.headDim * 2, (b, e) => attentionDecodeRef(a, b, e));
  },
  attentionTopK(a) {
    attentionTopKRef(a);
  },
  attentionGroupScores(a) {
    attentionGroupScoresRef(a);
  },
  attentionQuestPageBounds: questPageBoundsRef,
  attentionQuestSelect: questSelectRef,
  attentionLabelUpdate: labelUpdateRef,
  attentionLabelSelect: labelSelectRef,
  attentionQuestSelectDecode: questSelectDecodeRef,
  attentionLabelSelectDecode: labelSelectDecodeRef,
  attentionPrefill(a) {
    attentionPrefillRef(a);
  },
  attentionPrefillAsync(a) {
    return runInSlices(a.T, a.kv.length * a.kv.headDim * a.heads, (b, e) => attentionPrefillRef(a, b, e));
  },
  choleskyInverseUpper,
  // The js forms run in one piece after a turn of the event loop: the reference is for parity on small sizes.
  async choleskyInverseUpperAsync(h, k, u) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    return choleskyInverseUpper(h, k, u);
  },
  sparsegptSweep,
  async sparsegptSweepAsync(w, rows, cols, u, mask, plan) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    sparsegptSweep(w, rows, cols, u, mask, plan);
  },
  matmulNm(x, w, y) {
    w.validate();
    matmulNmRange(x, w, y, 0, w.shape[0]);
  },
  matmulNmAsync(x, w, y) {
    w.validate();
    const cost = x.shape[0]! * Math.max(1, w.groups * w.n);
    return runInSlices(w.shape[0], cost, (b, e) => matmulNmRange(x, w, y, b, e));
  },
  matmulInputSparse(x, wt, y) {
    matmulInputSparseRange(x, wt, y, 0, x.shape[0]!);
  },
  matmulInputSparseAsync(x, wt, y) {
    const cost = wt.shape[0]! * wt.shape[1]!; // worst case: a dense row
    return runInSlices(x.shape[0]!, cost, (b, e) => matmulInputSparseRange(x, wt, y, b, e));
  },
  matmulBitmap(x, w, y) {
    w.validate();
    matmulBitmapRange(x, w, y, 0, w.shape[0]);
  },
  matmulBitmapAsync(x, w, y) {
    w.validate();
    const cost = x.shape[0]! * Math.max(1, w.nnz / Math.max(1, w.shape[0]) + w.groups);
    return runInSlices(w.shape[0], cost, (b, e) => matmulBitmapRange(x, w, y, b, e));
  },
};
