// Launchers of the individual .cu kernels (one op per file), called by device_api.cu.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_ops.h"

namespace sparsenn::cuda {

// convert_activations.cu: x f32 [M, K] -> out 16-bit in B-fragment order (tile_layout.h),
// M_pad * tiles_k * 32 elements, zero padded; and x f32 [M, K] -> xt f32 [K, ld] transposed
// (columns >= M zero) for the row-wise kernels.
void launch_pack_activations(const float* x, int64_t M, int64_t K, void* out, int64_t M_pad, int64_t tiles_k,
                             DType dtype, cudaStream_t s);
void launch_transpose(const float* x, int64_t M, int64_t K, float* xt, int64_t ld, cudaStream_t s);

// tc_matmul_dense.cu (dense 16-bit tiles) and tc_matmul_sparse24.cu (2:4 tiles): Y = X · Wᵀ with
// x16 from launch_pack_activations with M_pad = tc_rows_padding(M) and the weight's tiles_k.
int64_t tc_rows_padding(int64_t M);
void launch_tc_dense(const DeviceWeight& w, const void* x16, int64_t M, float* y, cudaStream_t s);
void launch_tc_sparse24(const DeviceWeight& w, const void* x16, int64_t M, float* y, cudaStream_t s);

// rowwise_matmul.cu: CSR and dense-f32 weights, one warp per output row, up to 16 tokens per
// pass; xt from launch_transpose with ld = rowwise_ld(M).
int64_t rowwise_ld(int64_t M);
void launch_rowwise(const DeviceWeight& w, const float* xt, int64_t M, float* y, cudaStream_t s);

// spmm_csr.cu: CSR weights for prefill, 128 tokens per warp; xt from launch_transpose with ld a
// multiple of 4 (rowwise_ld(M) for M > 8).
void launch_spmm_csr(const DeviceWeight& w, const float* xt, int64_t M, int64_t ld, float* y, cudaStream_t s);
// Tokens from which CSR matmul takes launch_spmm_csr instead of launch_rowwise.
constexpr int64_t kCsrSpmmMinTokens = 17;

// spmm_bsr.cu: BSR weights, x row-major [M, cols].
void launch_spmm_bsr(const DeviceWeight& w, const float* x, int64_t M, float* y, cudaStream_t s);

// quest_select.cu: scores [kv_heads, pages] of pages [0, pages) (group-max bound).
void launch_quest_page_scores(const float* q, int64_t heads, const QuestBoundsView& b, int64_t pages, float* scores,
                              cudaStream_t s);
// top_k.cu: rows of n scores at stride ld -> k indices per row at stride out_ld.
void launch_top_k(const float* scores, int64_t rows, int64_t n, int64_t ld, int64_t k, uint32_t* out, int64_t out_ld,
                  cudaStream_t s);

// attention_decode.cu
void launch_attention_decode(const float* q, int64_t heads, const KvView& kv, const SelectionView& sel,
                             int64_t entries_max, float scale, float* out, cudaStream_t s);

}  // namespace sparsenn::cuda
