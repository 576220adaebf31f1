// Host side of the CUDA backend: device discovery, weight upload (converted once into the
// tiles the kernels read), dispatch of matmul by weight kind, and the self-test the loader
// runs in a child process before it trusts this addon.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "device_common.cuh"
#include "kernels.h"
#include "sparsenn/convert.h"

namespace sparsenn::cuda {

DeviceInfo device_info() {
  DeviceInfo info;
  check_cuda(cudaDriverGetVersion(&info.driver_version), "cudaDriverGetVersion");
  if (info.driver_version == 0) throw CudaError("ERR_BACKEND", "no NVIDIA driver found");
  check_cuda(cudaRuntimeGetVersion(&info.runtime_version), "cudaRuntimeGetVersion");
  const cudaError_t e = cudaGetDeviceCount(&info.count);
  if (e != cudaSuccess || info.count == 0)
    throw CudaError("ERR_BACKEND", std::string("no CUDA device: ") + (e != cudaSuccess ? cudaGetErrorString(e) : "0 devices"));
  check_cuda(cudaGetDevice(&info.device), "cudaGetDevice");
  cudaDeviceProp p{};
  check_cuda(cudaGetDeviceProperties(&p, info.device), "cudaGetDeviceProperties");
  info.name = p.name;
  info.major = p.major;
  info.minor = p.minor;
  info.total_memory = int64_t(p.totalGlobalMem);
  info.sm_count = p.multiProcessorCount;
  if (p.major < 8)
    throw CudaError("ERR_BACKEND", "device " + info.name + " has compute capability " + std::to_string(p.major) + "." +
                                       std::to_string(p.minor) + "; sparsenn's CUDA kernels need 8.0 or newer");
  return info;
}

namespace {

void* device_copy(const void* host, size_t bytes, int64_t* total) {
  void* d = nullptr;
  if (bytes == 0) return nullptr;
  check_cuda(cudaMalloc(&d, bytes), "cudaMalloc (weight)");
  const cudaError_t e = cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice);
  if (e != cudaSuccess) {
    cudaFree(d);
    check_cuda(e, "cudaMemcpy (weight)");
  }
  *total += int64_t(bytes);
  return d;
}

void check_16bit(DType dtype, const char* what) {
  if (dtype != DType::F16 && dtype != DType::BF16)
    throw CudaError("ERR_DTYPE", std::string(what) + ": tensor-core weights must be f16 or bf16");
}

// Frees whatever was uploaded if a later step throws.
struct WeightGuard {
  DeviceWeight* w;
  ~WeightGuard() {
    if (w) free_weight(*w);
  }
};

DeviceWeight upload_sparse_tiles(const SparseTiles& tiles, DType dtype, int64_t rows, int64_t cols) {
  DeviceWeight w;
  WeightGuard guard{&w};
  w.kind = WeightKind::Sparse24;
  w.dtype = dtype;
  w.rows = rows;
  w.cols = cols;
  w.geo = tiles.geo;
  w.values = device_copy(tiles.values.data(), tiles.values.size() * 4, &w.bytes);
  w.meta = device_copy(tiles.meta.data(), tiles.meta.size() * 4, &w.bytes);
  guard.w = nullptr;
  return w;
}

}  // namespace

DeviceWeight upload_dense(const void* data, DType dtype, int64_t rows, int64_t cols) {
  DeviceWeight w;
  WeightGuard guard{&w};
  w.dtype = dtype;
  w.rows = rows;
  w.cols = cols;
  w.geo = tile_geometry(rows, cols);
  if (dtype == DType::F32) {
    w.kind = WeightKind::DenseF32;
    w.values = device_copy(data, size_t(rows * cols) * 4, &w.bytes);
  } else {
    w.kind = WeightKind::Dense16;
    DenseTiles tiles;
    pack_dense(rows, cols, dense_row_source(cols, static_cast<const uint16_t*>(data)), &tiles);
    w.values = device_copy(tiles.values.data(), tiles.values.size() * 4, &w.bytes);
  }
  guard.w = nullptr;
  return w;
}

DeviceWeight upload_nm(const uint16_t* values, const uint8_t* positions, int n, int m, DType dtype, int64_t rows,
                       int64_t cols) {
  check_16bit(dtype, "upload_nm");
  if (n < 1 || m < 1 || n > m) throw CudaError("ERR_ARG", "upload_nm: need 1 <= n <= m");
  const std::string perr = check_nm_positions(rows, cols, n, m, values, positions);
  if (!perr.empty()) throw CudaError("ERR_FORMAT", perr);
  SparseTiles tiles;
  const std::string err = pack_sparse24(rows, cols, nm_row_source(cols, n, m, values, positions), &tiles);
  if (!err.empty()) throw CudaError("ERR_PATTERN", "sparse tensor cores need 2:4: " + err);
  return upload_sparse_tiles(tiles, dtype, rows, cols);
}

DeviceWeight upload_sparse24_from_dense(const uint16_t* data, DType dtype, int64_t rows, int64_t cols) {
  check_16bit(dtype, "upload_sparse24");
  SparseTiles tiles;
  const std::string err = pack_sparse24(rows, cols, dense_row_source(cols, data), &tiles);
  if (!err.empty()) throw CudaError("ERR_PATTERN", "sparse tensor cores need 2:4: " + err);
  return upload_sparse_tiles(tiles, dtype, rows, cols);
}

DeviceWeight upload_csr(const uint32_t* row_ptr, const void* col_idx, int col_bytes, const void* values, DType dtype,
                        int64_t rows, int64_t cols) {
  if (col_bytes != 2 && col_bytes != 4) throw CudaError("ERR_ARG", "upload_csr: column indices must be 16 or 32 bit");
  if (row_ptr[0] != 0) throw CudaError("ERR_FORMAT", "CSR: row pointers must start at 0");
  for (int64_t r = 0; r < rows; ++r)
    if (row_ptr[r + 1] < row_ptr[r]) throw CudaError("ERR_FORMAT", "CSR: row pointers decrease at row " + std::to_string(r));
  const int64_t nnz = row_ptr[rows];
  for (int64_t j = 0; j < nnz; ++j) {
    const int64_t c = col_bytes == 2 ? static_cast<const uint16_t*>(col_idx)[j] : static_cast<const uint32_t*>(col_idx)[j];
    if (c >= cols) throw CudaError("ERR_FORMAT", "CSR: column index " + std::to_string(c) + " >= " + std::to_string(cols));
  }
  DeviceWeight w;
  WeightGuard guard{&w};
  w.kind = WeightKind::Csr;
  w.dtype = dtype;
  w.rows = rows;
  w.cols = cols;
  w.nnz = nnz;
  w.col_bytes = col_bytes;
  w.row_ptr = device_copy(row_ptr, size_t(rows + 1) * 4, &w.bytes);
  w.col_idx = device_copy(col_idx, size_t(nnz) * col_bytes, &w.bytes);
  w.values = device_copy(values, size_t(nnz) * size_t(dtype_size(dtype)), &w.bytes);
  guard.w = nullptr;
  return w;
}

DeviceWeight upload_bsr(const uint32_t* block_row_ptr, const void* block_col, int col_bytes, const void* values,
                        DType dtype, int64_t rows, int64_t cols, int64_t block_rows, int64_t block_cols) {
  if (col_bytes != 2 && col_bytes != 4) throw CudaError("ERR_ARG", "upload_bsr: block columns must be 16 or 32 bit");
  if (block_rows < 1 || block_cols < 1 || block_rows * block_cols > 4096)
    throw CudaError("ERR_ARG", "upload_bsr: block must be [rows, cols] >= 1 with rows * cols <= 4096");
  const int64_t nbr = (rows + block_rows - 1) / block_rows, nbc = (cols + block_cols - 1) / block_cols;
  if (block_row_ptr[0] != 0) throw CudaError("ERR_FORMAT", "BSR: block row pointers must start at 0");
  for (int64_t r = 0; r < nbr; ++r)
    if (block_row_ptr[r + 1] < block_row_ptr[r])
      throw CudaError("ERR_FORMAT", "BSR: block row pointers decrease at block row " + std::to_string(r));
  const int64_t nblocks = block_row_ptr[nbr];
  for (int64_t j = 0; j < nblocks; ++j) {
    const int64_t c = col_bytes == 2 ? static_cast<const uint16_t*>(block_col)[j] : static_cast<const uint32_t*>(block_col)[j];
    if (c >= nbc) throw CudaError("ERR_FORMAT", "BSR: block column " + std::to_string(c) + " >= " + std::to_string(nbc));
  }
  DeviceWeight w;
  WeightGuard guard{&w};
  w.kind = WeightKind::Bsr;
  w.dtype = dtype;
  w.rows = rows;
  w.cols = cols;
  w.nnz = nblocks;
  w.col_bytes = col_bytes;
  w.block_rows = block_rows;
  w.block_cols = block_cols;
  w.row_ptr = device_copy(block_row_ptr, size_t(nbr + 1) * 4, &w.bytes);
  w.col_idx = device_copy(block_col, size_t(nblocks) * col_bytes, &w.bytes);
  w.values = device_copy(values, size_t(nblocks * block_rows * block_cols) * size_t(dtype_size(dtype)), &w.bytes);
  guard.w = nullptr;
  return w;
}

void free_weight(DeviceWeight& w) {
  for (void** p : {&w.values, &w.meta, &w.row_ptr, &w.col_idx}) {
    if (*p) cudaFree(*p);
    *p = nullptr;
  }
  w.bytes = 0;
}

void matmul_device(const DeviceWeight& w, const float* x, int64_t M, float* y, void* stream) {
  cudaStream_t s = as_stream(stream);
  if (M == 0 || w.rows == 0) return;
  if (w.cols == 0) {
    check_cuda(cudaMemsetAsync(y, 0, size_t(M * w.rows) * 4, s), "matmul zero fill");
    return;
  }
  void* tmp = nullptr;
  if (w.kind == WeightKind::Dense16 || w.kind == WeightKind::Sparse24) {
    const int64_t M_pad = tc_rows_padding(M), K_pad = w.geo.tiles_k * kTileCols;
    check_cuda(cudaMallocAsync(&tmp, size_t(M_pad * K_pad) * 2, s), "activation buffer");
    launch_pack_activations(x, M, w.cols, tmp, M_pad, w.geo.tiles_k, w.dtype, s);
    if (w.kind == WeightKind::Dense16) launch_tc_dense(w, tmp, M, y, s);
    else launch_tc_sparse24(w, tmp, M, y, s);
  } else if (w.kind == WeightKind::Bsr) {
    launch_spmm_bsr(w, x, M, y, s);
    return;
  } else {
    const int64_t ld = rowwise_ld(M);
    check_cuda(cudaMallocAsync(&tmp, size_t(w.cols * ld) * 4, s), "activation buffer");
    launch_transpose(x, M, w.cols, static_cast<float*>(tmp), ld, s);
    if (w.kind == WeightKind::Csr && M >= kCsrSpmmMinTokens)
      launch_spmm_csr(w, static_cast<const float*>(tmp), M, ld, y, s);
    else
      launch_rowwise(w, static_cast<const float*>(tmp), M, y, s);
  }
  check_cuda(cudaFreeAsync(tmp, s), "activation buffer free");
}

void matmul_host(const DeviceWeight& w, const float* x, int64_t M, float* y) {
  cudaStream_t s = nullptr;
  check_cuda(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  float *dx = nullptr, *dy = nullptr;
  const size_t xb = size_t(M * w.cols) * 4, yb = size_t(M * w.rows) * 4;
  cudaError_t e = cudaMallocAsync(reinterpret_cast<void**>(&dx), std::max<size_t>(xb, 4), s);
  if (e == cudaSuccess) e = cudaMallocAsync(reinterpret_cast<void**>(&dy), std::max<size_t>(yb, 4), s);
  if (e == cudaSuccess) e = cudaMemcpyAsync(dx, x, xb, cudaMemcpyHostToDevice, s);
  std::string what;
  if (e == cudaSuccess) {
    try {
      matmul_device(w, dx, M, dy, s);
    } catch (const CudaError& err) {
      what = err.what();
    }
  }
  if (e == cudaSuccess && what.empty()) e = cudaMemcpyAsync(y, dy, yb, cudaMemcpyDeviceToHost, s);
  if (dx) cudaFreeAsync(dx, s);
  if (dy) cudaFreeAsync(dy, s);
  const cudaError_t se = cudaStreamSynchronize(s);
  cudaStreamDestroy(s);
  if (!what.empty()) throw CudaError("ERR_BACKEND", what);
  check_cuda(e, "matmul");
  check_cuda(se, "matmul (kernel)");
}

void attention_decode_device(const float* q, int64_t heads, const KvView& kv, const SelectionView& sel,
                             int64_t entries_max, float scale, float* out, void* stream) {
  launch_attention_decode(q, heads, kv, sel, entries_max, scale, out, as_stream(stream));
}

// ---- self-test -----------------------------------------------------------------------------

namespace {

uint16_t f32_to_f16_bits(float f) {
  // Round-to-nearest-even via the CUDA host conversion (cuda_fp16.h is host-callable).
  const __half h = __float2half_rn(f);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}

double rel_error(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace

std::string self_test() {
  try {
    device_info();
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    const int64_t N = 37, K = 70, M = 3;
    std::vector<uint16_t> wd(size_t(N * K)), ws(size_t(N * K), 0);
    std::vector<float> wdf(size_t(N * K)), wsf(size_t(N * K), 0.0f), x(size_t(M * K));
    for (int64_t i = 0; i < N * K; ++i) {
      wd[i] = f32_to_f16_bits(uni(rng) + (uni(rng) > 0 ? 0.1f : -0.1f));
      wdf[i] = f16_to_f32(wd[i]);
      const int64_t col = i % K;
      if (col % 4 == (i / K) % 4 || col % 4 == ((i / K) + 2) % 4) {  // 2 of every 4, varying by row
        ws[i] = wd[i];
        wsf[i] = wdf[i];
      }
    }
    for (auto& v : x) v = uni(rng);
    auto reference = [&](const std::vector<float>& w) {
      std::vector<double> y(size_t(M * N));
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          double acc = 0;
          for (int64_t k = 0; k < K; ++k) acc += double(x[m * K + k]) * w[n * K + k];
          y[m * N + n] = acc;
        }
      return y;
    };
    std::vector<float> y(size_t(M * N));
    DeviceWeight dense = upload_dense(wd.data(), DType::F16, N, K);
    matmul_host(dense, x.data(), M, y.data());
    free_weight(dense);
    double err = rel_error(y, reference(wdf));
    if (!(err <= 1e-2)) return "dense f16 tensor-core matmul: relative error " + std::to_string(err);
    DeviceWeight sparse = upload_sparse24_from_dense(ws.data(), DType::F16, N, K);
    matmul_host(sparse, x.data(), M, y.data());
    free_weight(sparse);
    err = rel_error(y, reference(wsf));
    if (!(err <= 1e-2)) return "2:4 sparse tensor-core matmul: relative error " + std::to_string(err);
    DeviceWeight f32 = upload_dense(wdf.data(), DType::F32, N, K);
    matmul_host(f32, x.data(), M, y.data());
    free_weight(f32);
    err = rel_error(y, reference(wdf));
    if (!(err <= 1e-5)) return "dense f32 matmul: relative error " + std::to_string(err);
    // BSR (2x8 blocks, every other block kept) through the block SpMM kernel; the kept blocks'
    // padding past K = 70 holds garbage the kernel must crop.
    {
      const int64_t br = 2, bc = 8, nbr = (N + br - 1) / br, nbc = (K + bc - 1) / bc;
      std::vector<uint32_t> brp(size_t(nbr + 1), 0);
      std::vector<uint16_t> bcol;
      std::vector<float> bvals, wb(size_t(N * K), 0.0f);
      for (int64_t r = 0; r < nbr; ++r) {
        for (int64_t c = (r % 2); c < nbc; c += 2) {
          bcol.push_back(uint16_t(c));
          for (int64_t i = 0; i < br; ++i)
            for (int64_t j = 0; j < bc; ++j) {
              const int64_t row = r * br + i, col = c * bc + j;
              const float v = row < N && col < K ? wdf[row * K + col] : 9.0f;
              bvals.push_back(v);
              if (row < N && col < K) wb[row * K + col] = v;
            }
        }
        brp[size_t(r + 1)] = uint32_t(bcol.size());
      }
      DeviceWeight bsr = upload_bsr(brp.data(), bcol.data(), 2, bvals.data(), DType::F32, N, K, br, bc);
      matmul_host(bsr, x.data(), M, y.data());
      free_weight(bsr);
      err = rel_error(y, reference(wb));
      if (!(err <= 1e-5)) return "BSR f32 matmul: relative error " + std::to_string(err);
    }
    // CSR at 20 tokens: the prefill SpMM kernel (M >= kCsrSpmmMinTokens).
    {
      const int64_t M20 = 20;
      std::vector<float> x20(size_t(M20 * K)), wc(size_t(N * K), 0.0f), y20(size_t(M20 * N));
      for (auto& v : x20) v = uni(rng);
      std::vector<uint32_t> rp(size_t(N + 1), 0);
      std::vector<uint16_t> ci;
      std::vector<float> cv;
      for (int64_t r = 0; r < N; ++r) {
        for (int64_t c = r % 3; c < K; c += 3) {
          ci.push_back(uint16_t(c));
          cv.push_back(wdf[r * K + c]);
          wc[r * K + c] = wdf[r * K + c];
        }
        rp[size_t(r + 1)] = uint32_t(ci.size());
      }
      DeviceWeight csr = upload_csr(rp.data(), ci.data(), 2, cv.data(), DType::F32, N, K);
      matmul_host(csr, x20.data(), M20, y20.data());
      free_weight(csr);
      std::vector<double> want(size_t(M20 * N));
      for (int64_t m = 0; m < M20; ++m)
        for (int64_t n = 0; n < N; ++n) {
          double acc = 0;
          for (int64_t k = 0; k < K; ++k) acc += double(x20[m * K + k]) * wc[n * K + k];
          want[m * N + n] = acc;
        }
      err = rel_error(y20, want);
      if (!(err <= 1e-5)) return "CSR SpMM f32 matmul (20 tokens): relative error " + std::to_string(err);
    }
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace sparsenn::cuda
