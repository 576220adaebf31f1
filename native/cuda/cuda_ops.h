// Host API of the CUDA kernels (plain C++; no N-API, no CUDA types in the interface), used by
// the addon (binding/cuda_addon.cc) and by the standalone check program (bench/gpu/check.cu).
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

enum class WeightKind : int { Dense16 = 0, Sparse24 = 1, Csr = 2, DenseF32 = 3 };

// A weight resident in device memory (uploaded once; free_weight releases it).
struct DeviceWeight {
  WeightKind kind = WeightKind::Dense16;
  DType dtype = DType::F16;
  int64_t rows = 0, cols = 0;
  TileGeometry geo;
  void* values = nullptr;   // tiles (Dense16 / Sparse24), row-major f32 (DenseF32), CSR values
  void* meta = nullptr;     // Sparse24 metadata
  void* row_ptr = nullptr;  // CSR: u32[rows + 1]
  void* col_idx = nullptr;  // CSR: u16 or u32 [nnz]
  int col_bytes = 0;        // 2 or 4
  int64_t nnz = 0;
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
void free_weight(DeviceWeight& w);

// Y[M, rows] = X[M, cols] · Wᵀ on device pointers (x, y in device memory), on `stream`
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

// Runs the tiny end-to-end test the loader trusts: each kernel on random data vs a CPU result.
// Returns "" on success, else what failed.
std::string self_test();

}  // namespace sparsenn::cuda
