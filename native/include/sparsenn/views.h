// Plain C++ views over caller-owned memory. No N-API here: the binding layer
// validates JS inputs and builds these; kernels only read/write through them.
#pragma once
#include <cstdint>

namespace sparsenn {

// Element type of stored weights. Activations are always f32.
enum class DType : int32_t { F32 = 0, BF16 = 1, F16 = 2 };

inline int64_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }

// A row-major [rows, cols] matrix of f32 / bf16 / f16 elements.
struct DenseView {
  const void* data;
  DType dtype;
  int64_t rows;
  int64_t cols;
};

// A row-major f32 matrix the kernel writes into.
struct MutF32View {
  float* data;
  int64_t rows;
  int64_t cols;
};

// A row-major f32 matrix the kernel only reads (activations).
struct F32View {
  const float* data;
  int64_t rows;
  int64_t cols;
};

// One layer's KV cache: K and V share layout and dtype. Element (head h, token t, dim d) of K is
// k[h*head_stride + t*token_stride + d]; strides let a cache be head-major ([kv_heads, capacity, D])
// or token-major ([capacity, kv_heads, D]) without copying. Tokens [0, length) are valid.
struct KvView {
  const void* k;
  const void* v;
  DType dtype;
  int64_t kv_heads;
  int64_t length;
  int64_t head_dim;
  int64_t head_stride;   // elements between consecutive heads
  int64_t token_stride;  // elements between consecutive tokens
};

// How a per-KV-head key selection is encoded (see SelectionView).
enum class SelectionKind : int32_t { All = 0, Ranges = 1, Indices = 2, Pages = 3 };

// Which cached tokens each KV head reads (shared by that head's group of query heads, so one pass
// over the selected keys serves the whole GQA group). Entries of head h are offsets[h]..offsets[h+1]:
//   Ranges:  entry i is the half-open token range [items[2i], items[2i+1])
//   Indices: entry i is the token items[i]
//   Pages:   entry i is tokens [items[i]*page_size, min((items[i]+1)*page_size, length))
// All: every token; offsets and items are unused.
struct SelectionView {
  SelectionKind kind;
  const int32_t* offsets;
  const int32_t* items;
  int32_t page_size;
};

// A block-sparse causal mask in BSR form (FlashInfer-style plan): for mask head m and query block
// qb, the key blocks to visit are kv_blocks[indptr[m*q_blocks + qb] .. indptr[m*q_blocks + qb + 1]).
// mask_heads is 1 (one mask for all heads) or the number of query heads.
struct BlockMaskView {
  const int32_t* indptr;
  const int32_t* kv_blocks;
  int64_t mask_heads;
  int64_t q_blocks;
  int64_t block_q;  // queries per query block
  int64_t block_k;  // keys per key block
};

// An N:M sparse [rows, cols] weight (see lib/formats/nm.ts for the layout):
// every run of m consecutive columns of a row (a group; the last one padded
// with zero columns up to m) keeps n values. `values` holds them row-major,
// [rows, groups*n], in the stored dtype. `meta` holds each kept value's
// position inside its group, log2(m) bits each, packed LSB-first into a
// per-row bit stream of u32 words ([rows, meta_words]); for 2:4 one word is
// 16 positions = 8 groups = 32 columns.
struct NmView {
  const void* values;
  DType dtype;
  const uint32_t* meta;
  int64_t rows;
  int64_t cols;
  int32_t n;
  int32_t m;
  int32_t bits;        // log2(m)
  int64_t groups;      // ceil(cols / m)
  int64_t meta_words;  // u32 words per row: ceil(groups * n * bits / 32)
};

// A CSR [rows, cols] weight (see lib/formats/csr.ts): row n's entries are
// [row_ptr[n], row_ptr[n+1]); col_idx holds u16 (index_bits 16) or u32 column
// indices, values the stored dtype. The binding checks row_ptr (monotone, from
// 0 to nnz); kernels check each column index against cols as they read it.
struct CsrView {
  const uint32_t* row_ptr;
  const void* col_idx;
  int32_t index_bits;  // 16 or 32
  const void* values;
  DType dtype;
  int64_t rows;
  int64_t cols;
  int64_t nnz;
};

// A block-sparse [rows, cols] weight with [block_rows, block_cols] blocks (see
// lib/formats/bsr.ts): block row r's blocks are [block_row_ptr[r], block_row_ptr[r+1]),
// block j sits at block column block_col[j] and holds block_rows*block_cols values
// row-major. The matrix is padded with zeros up to whole blocks; kernels crop to
// [rows, cols], so they never read x or write y outside it.
struct BsrView {
  const uint32_t* block_row_ptr;
  const void* block_col;
  int32_t index_bits;  // 16 or 32
  const void* values;
  DType dtype;
  int64_t rows;
  int64_t cols;
  int64_t block_rows;
  int64_t block_cols;
  int64_t nblocks;
};

}  // namespace sparsenn
