// Host API of the CUDA kernels (plain C++; no N-API, no CUDA types in the interface), used by
// the addon (binding/cuda_addon.cc) and by the standalone check program (bench/gpu/check.cc).
// Every function throws CudaError on failure; nothing here aborts the process.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

#include "sparsenn/views.h"
#include "tile_layout.h"

namespace sparsenn::cuda {

struct CudaError : std::runtime_error {
  CudaError(std::string c, const std::string& m) : std::runtime_error(m), code(std::move(c)) {}
  std::string code;  // ERR_BACKEND (no device / CUDA failure), ERR_PATTERN, ERR_FORMAT, ERR_SHAPE
};

struct DeviceInfo {
  int count = 0;
  int device = 0;
  std::string name;
  int major = 0, minor = 0;
  int64_t total_memory = 0;
  int driver_version = 0, runtime_version = 0;
  int sm_count = 0;
};

// Throws CudaError("ERR_BACKEND", why) when no usable device or driver is present.
DeviceInfo device_info();

enum class WeightKind : int { Dense16 = 0, Sparse24 = 1, Csr = 2, DenseF32 = 3, Bsr = 4 };

// A weight resident in device memory (uploaded once; free_weight releases it).
struct DeviceWeight {
  WeightKind kind = WeightKind::Dense16;
  DType dtype = DType::F16;
  int64_t rows = 0, cols = 0;
  TileGeometry geo;
  void* values = nullptr;   // tiles (Dense16 / Sparse24), row-major f32 (DenseF32), CSR values
  void* meta = nullptr;     // Sparse24 metadata
  void* row_ptr = nullptr;  // CSR: u32[rows + 1]; BSR: u32[block rows + 1]
  void* col_idx = nullptr;  // CSR: u16 or u32 [nnz]; BSR: block columns, u16 or u32 [nnz blocks]
  int col_bytes = 0;        // 2 or 4
  int64_t nnz = 0;          // CSR: nonzeros; BSR: stored blocks
  int64_t block_rows = 0, block_cols = 0;  // BSR block shape
  int64_t bytes = 0;        // device bytes held
};

// W [rows, cols] dense. f16/bf16 become tensor-core tiles; f32 stays row-major (SIMT kernel).
DeviceWeight upload_dense(const void* w, DType dtype, int64_t rows, int64_t cols);
// W as N:M kept values (f16/bf16 bits) and one position byte per value (see tile_layout.h).
// Only patterns with at most 2 nonzeros per aligned group of 4 fit the sparse tensor cores;
// anything else throws CudaError("ERR_PATTERN").
DeviceWeight upload_nm(const uint16_t* values, const uint8_t* positions, int n, int m, DType dtype, int64_t rows,
                       int64_t cols);
// W dense but known to be 2:4 sparse (used by tests and the check program).
DeviceWeight upload_sparse24_from_dense(const uint16_t* w, DType dtype, int64_t rows, int64_t cols);
// W in CSR (row_ptr u32[rows+1], col_idx u16/u32 [nnz], values f32/bf16/f16 [nnz]); validated here.
DeviceWeight upload_csr(const uint32_t* row_ptr, const void* col_idx, int col_bytes, const void* values, DType dtype,
                        int64_t rows, int64_t cols);
// W block-sparse (see BsrView: block_row_ptr u32[ceil(rows/br)+1], block_col u16/u32 [nblocks],
// values [nblocks, br·bc] f32/bf16/f16, br·bc <= 4096); validated here.
DeviceWeight upload_bsr(const uint32_t* block_row_ptr, const void* block_col, int col_bytes, const void* values,
                        DType dtype, int64_t rows, int64_t cols, int64_t block_rows, int64_t block_cols);
void free_weight(DeviceWeight& w);

// Y[M, rows] = X[M, cols] · Wᵀ on device pointers (CSR: the row-wise decode kernel up to 16 tokens,
// the SpMM kernel above; BSR: the block SpMM kernel at every M) (x, y in device memory), on `stream`
// (a cudaStream_t, or nullptr for the default stream). Activations are converted to the
// weight's 16-bit type for the tensor-core paths (f32 accumulation).
void matmul_device(const DeviceWeight& w, const float* x, int64_t M, float* y, void* stream);
// The same from host memory: copies in, runs, copies out, synchronises.
void matmul_host(const DeviceWeight& w, const float* x, int64_t M, float* y);

// Decode attention over an f16 KV cache in device memory (KvView pointers are device pointers,
// dtype must be F16). Selection kinds All, Indices and Pages (Indices = pages of one token);
// offsets/items are device pointers. q, out: device [heads, head_dim] f32.
void attention_decode_device(const float* q, int64_t heads, const KvView& kv, const SelectionView& sel,
                             int64_t entries_max, float scale, float* out, void* stream);

// ---- Quest page selection on the device (quest_page_bounds.cu, quest_select.cu, top_k.cu) ------
// Page bounds of one layer in device memory, the CPU's values (selection_contract.ts) in plain
// rows: codes int8 [kv_heads, capacity, 2 * head_dim], row (h, p) = [hi(D) rounded up, lo(D)
// rounded down] in units of scales[h * capacity + p] (f32, >= 0; +inf for a page with a
// non-finite key).
struct QuestBoundsView {
  int8_t* codes;
  float* scales;
  int64_t kv_heads;
  int64_t capacity;  // pages per head the buffers hold
  int64_t head_dim;
};
// Bounds of the complete pages [page_begin, page_end) from an f16 KV cache (device pointers).
void quest_page_bounds_device(const KvView& kv, int32_t page_size, int64_t page_begin, int64_t page_end,
                              const QuestBoundsView& bounds, void* stream);
// For each KV head h: pages [0, current) scored by the group-max bound (scores [kv_heads, current]
// hold them afterwards), the `keep` best ascending, then `current`, written as a Pages selection
// attention_decode_device reads: offsets [kv_heads + 1], items [kv_heads * (keep + 1)]. q: [heads, D].
void quest_select_device(const float* q, int64_t heads, const QuestBoundsView& bounds, int64_t current, int64_t keep,
                         float* scores, int32_t* offsets, int32_t* items, void* stream);
// For each of `rows` rows of n scores: the indices of the k largest, ascending, ties to the lower
// index, NaN as -inf (the CPU's attention_top_k): out [rows, k].
void top_k_device(const float* scores, int64_t rows, int64_t n, int64_t k, uint32_t* out, void* stream);

// ---- the rest of a decode step (rmsnorm.cu, rope.cu, swiglu.cu, sampling.cu); device pointers ----
// out[r] = x[r] / sqrt(mean(x[r]²) + eps) · weight, x and out [rows, dim] (out may be x).
void rmsnorm_device(const float* x, const float* weight, int64_t rows, int64_t dim, float eps, float* out, void* stream);
enum class RopeLayout : int { Interleaved = 0, Half = 1 };
// In place on x [rows, heads * head_dim], row r at position pos0 + r (lib/nn/rope.ts).
void rope_device(float* x, int64_t rows, int64_t heads, int64_t head_dim, int64_t pos0, double theta, RopeLayout layout,
                 void* stream);
// gate[i] = silu(gate[i]) · up[i].
void swiglu_device(float* gate, const float* up, int64_t n, void* stream);
// Rows [rows, n] of logits -> softmax(logits / temperature), in place.
void softmax_device(float* x, int64_t rows, int64_t n, float temperature, void* stream);
// Per row the index of the largest value (ties: lowest index; NaN as -inf): out int32 [rows].
void argmax_device(const float* x, int64_t rows, int64_t n, int32_t* out, void* stream);
// Per row a draw from weights [rows, n] (>= 0, need not sum to 1) given uniforms [rows] in [0, 1).
void sample_device(const float* weights, int64_t rows, int64_t n, const float* uniforms, int32_t* out, void* stream);
// out[r, j] = x[r, idx[r, j]] for x [rows, n], idx [rows, k] (NaN for an index >= n). With
// top_k_device, softmax_device and sample_device: top-k sampling without leaving the device.
void gather_device(const float* x, int64_t rows, int64_t n, const uint32_t* idx, int64_t k, float* out, void* stream);

// Runs the tiny end-to-end test the loader trusts: each kernel on random data vs a CPU result.
// Returns "" on success, else what failed.
std::string self_test();

}  // namespace sparsenn::cuda
