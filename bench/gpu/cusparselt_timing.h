// cuSPARSELt 2:4 GEMM, timed for comparison only (never a dependency of the library).
// Compiled only when bench/gpu/check.sh finds cusparseLt.h in PyTorch's nvidia/cusparselt
// package (SPARSENN_HAVE_CUSPARSELT); the library itself is dlopen'ed, and the function
// pointer types come from the real header, so a signature mismatch is a compile error there.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

struct CusparseltTiming {
  bool ok = false;
  std::string why;  // when !ok
  double ms = 0;
};

// Times Yᵀ[N, M] = W[N, K] (2:4, f16, pruned by cuSPARSELt itself) · X[M, K]ᵀ with f16 inputs and
// output, f32 accumulation. w and x are row-major f16 device buffers; y holds N*M halves.
// `median_ms` is the check program's CUDA-event timer.
#if defined(SPARSENN_HAVE_CUSPARSELT)
#include <cusparseLt.h>
#include <dlfcn.h>

#include <cstdlib>

inline CusparseltTiming time_cusparselt(int64_t M, int64_t N, int64_t K, void* w, const void* x, void* y,
                                        const std::function<double(const std::function<void()>&)>& median_ms) {
  CusparseltTiming r;
#if CUSPARSELT_VERSION < 500
  r.why = "cuSPARSELt older than 0.5 (API not supported here)";
  return r;
#else
  const char* env = std::getenv("SPARSENN_CUSPARSELT");
  void* lib = dlopen(env ? env : "libcusparseLt.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    r.why = std::string("dlopen failed: ") + dlerror();
    return r;
  }
#define SPARSENN_LT(name) auto p_##name = reinterpret_cast<decltype(&name)>(dlsym(lib, #name))
  SPARSENN_LT(cusparseLtInit);
  SPARSENN_LT(cusparseLtDestroy);
  SPARSENN_LT(cusparseLtDenseDescriptorInit);
  SPARSENN_LT(cusparseLtStructuredDescriptorInit);
  SPARSENN_LT(cusparseLtMatmulDescriptorInit);
  SPARSENN_LT(cusparseLtMatmulAlgSelectionInit);
  SPARSENN_LT(cusparseLtMatmulPlanInit);
  SPARSENN_LT(cusparseLtMatmulGetWorkspace);
  SPARSENN_LT(cusparseLtSpMMAPrune);
  SPARSENN_LT(cusparseLtSpMMACompressedSize);
  SPARSENN_LT(cusparseLtSpMMACompress);
  SPARSENN_LT(cusparseLtMatmul);
  SPARSENN_LT(cusparseLtMatmulPlanDestroy);
#undef SPARSENN_LT
  if (!p_cusparseLtInit || !p_cusparseLtMatmul || !p_cusparseLtSpMMACompress || !p_cusparseLtMatmulPlanInit) {
    r.why = "cuSPARSELt symbols missing";
    return r;
  }
  cusparseLtHandle_t h;
  cusparseLtMatDescriptor_t a, b, c;
  cusparseLtMatmulDescriptor_t mm;
  cusparseLtMatmulAlgSelection_t alg;
  cusparseLtMatmulPlan_t plan;
  int step = 0;
  auto ok = [&](cusparseStatus_t s) {
    ++step;
    if (s != CUSPARSE_STATUS_SUCCESS && r.why.empty()) r.why = "cuSPARSELt call " + std::to_string(step) + " failed with status " + std::to_string(int(s));
    return s == CUSPARSE_STATUS_SUCCESS;
  };
  const auto order = CUSPARSE_ORDER_ROW;
  if (!ok(p_cusparseLtInit(&h))) return r;
  // A = W [N, K] (structured), B = X [M, K] used transposed, C = D = [N, M].
  bool good = ok(p_cusparseLtStructuredDescriptorInit(&h, &a, N, K, K, 16, CUDA_R_16F, order, CUSPARSELT_SPARSITY_50_PERCENT)) &&
              ok(p_cusparseLtDenseDescriptorInit(&h, &b, M, K, K, 16, CUDA_R_16F, order)) &&
              ok(p_cusparseLtDenseDescriptorInit(&h, &c, N, M, M, 16, CUDA_R_16F, order)) &&
              ok(p_cusparseLtMatmulDescriptorInit(&h, &mm, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_TRANSPOSE, &a,
                                                  &b, &c, &c, CUSPARSE_COMPUTE_32F)) &&
              ok(p_cusparseLtMatmulAlgSelectionInit(&h, &alg, &mm, CUSPARSELT_MATMUL_ALG_DEFAULT)) &&
              ok(p_cusparseLtMatmulPlanInit(&h, &plan, &mm, &alg));
  size_t ws_size = 0, comp_size = 0, comp_buf_size = 0;
  void *ws = nullptr, *comp = nullptr, *comp_buf = nullptr;
  good = good && ok(p_cusparseLtSpMMAPrune(&h, &mm, w, w, CUSPARSELT_PRUNE_SPMMA_TILE, nullptr)) &&
         ok(p_cusparseLtMatmulGetWorkspace(&h, &plan, &ws_size)) &&
         ok(p_cusparseLtSpMMACompressedSize(&h, &plan, &comp_size, &comp_buf_size));
  if (good && (cudaMalloc(&comp, comp_size) != cudaSuccess || cudaMalloc(&comp_buf, comp_buf_size + 1) != cudaSuccess ||
               cudaMalloc(&ws, ws_size + 1) != cudaSuccess)) {
    r.why = "cudaMalloc for cuSPARSELt buffers failed";
    good = false;
  }
  good = good && ok(p_cusparseLtSpMMACompress(&h, &plan, w, comp, comp_buf, nullptr));
  const float alpha = 1.0f, beta = 0.0f;
  if (good) {
    cudaStream_t stream = nullptr;
    good = ok(p_cusparseLtMatmul(&h, &plan, &alpha, comp, x, &beta, y, y, ws, &stream, 1));
    if (good) {
      r.ms = median_ms([&] { p_cusparseLtMatmul(&h, &plan, &alpha, comp, x, &beta, y, y, ws, &stream, 1); });
      r.ok = true;
    }
  }
  for (void* p : {ws, comp, comp_buf})
    if (p) cudaFree(p);
  if (p_cusparseLtMatmulPlanDestroy && step >= 6) p_cusparseLtMatmulPlanDestroy(&plan);
  if (p_cusparseLtDestroy) p_cusparseLtDestroy(&h);
  return r;
#endif
}
#else
inline CusparseltTiming time_cusparselt(int64_t, int64_t, int64_t, void*, const void*, void*,
                                        const std::function<double(const std::function<void()>&)>&) {
  CusparseltTiming r;
  r.why = "check program built without cuSPARSELt headers";
  return r;
}
#endif
