// The kernel API: one function per op. Callers guarantee shapes agree
// (the binding checks them); kernels run on the shared thread pool.
#pragma once
#include "sparsenn/views.h"

namespace sparsenn {

// Y[M,N] = X[M,K] · Wᵀ with W stored [N,K] (PyTorch Linear convention).
void matmul_dense(const F32View& x, const DenseView& w, const MutF32View& y);

// Decode attention, one new query per head, over a KV cache with GQA (heads % kv_heads == 0;
// query head h reads KV head h / (heads / kv_heads)):
//   out[h] = softmax(scale · q[h] · K_Sᵀ) · V_S,  S = the selection of h's KV head.
// q and out are [heads, head_dim]. A head whose selection is empty gets zeros. Selected tokens
// must lie in [0, kv.length) (the binding checks). Threads over KV heads and over blocks of
// selected keys (split-K), merged with log-sum-exp, so one long sequence uses every core.
void attention_decode(const F32View& q, const KvView& kv, const SelectionView& sel, float scale,
                      const MutF32View& out);

// Prefill attention for T new queries at absolute positions pos0 .. pos0+T-1 over kv tokens
// [0, kv.length), causal (key j is visible to query i when j <= pos0 + i), restricted to the key
// blocks of `mask`. q and out are [T, heads * head_dim] (token-major, as the Q projection writes
// them). Flash-style: tiles with a running softmax, never the T x T score matrix. Query rows that
// see no key get zeros.
void attention_prefill(const F32View& q, int64_t heads, const KvView& kv, const BlockMaskView& mask,
                       int64_t pos0, float scale, const MutF32View& out);

// Y[M,N] = X[M,K] · Wᵀ with W N:M sparse. Positions are taken modulo the
// padded width (groups * m), so corrupted metadata cannot read out of bounds;
// kept values in the zero padding past K multiply zeros.
void matmul_nm(const F32View& x, const NmView& w, const MutF32View& y);

// Y[M,N] = X[M,K] · W with W given transposed, as Wt [K,N] row-major: skips the
// rows of Wt whose input x[m,k] is zero (sparse activations), so the bytes read
// scale with the input's density.
void matmul_input_sparse(const F32View& x, const DenseView& wt, const MutF32View& y);

// Y[M,N] = X[M,K] · Wᵀ with W in CSR; threads get equal shares of nonzeros.
// row_ptr must already be checked (the binding does). Returns false when a
// column index is >= K: those entries are skipped, so every read stays in
// bounds, and the caller reports ERR_FORMAT.
bool matmul_csr(const F32View& x, const CsrView& w, const MutF32View& y);

// Y[M,N] = X[M,K] · Wᵀ with W block-sparse. Returns false when a block column
// is out of range (that block is skipped).
bool matmul_bsr(const F32View& x, const BsrView& w, const MutF32View& y);

// Selection scores for sparse-attention policies: for every KV head h and row t of `rows` (a
// KvView whose k holds the rows: keys, Quest page bounds, Double Sparsity labels, ...),
//   out[h * rows.length + t] = max over the query heads g of h's group of q[g] · row(h, t).
// q is [heads, rows.head_dim]. Threads over heads and row blocks.
void attention_group_scores(const F32View& q, const KvView& rows, const MutF32View& out);

// For each of `rows` rows of n scores: the indices of the k largest (k <= n), ascending, ties to
// the lower index, NaN ranked below everything: out[r*k .. r*k+k). Threads over rows.
void attention_top_k(const float* scores, int64_t rows, int64_t n, int64_t k, uint32_t* out);
}  // namespace sparsenn
