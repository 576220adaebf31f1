// CSR Y[M,N] = X[M,K] · Wᵀ: picks the ISA variant once, splits W's rows into
// parts of equal cost (nonzeros plus a small per-row overhead, not equal row
// counts, since pruned rows differ a lot), a few parts per thread. Small M runs
// the gather form (decode); larger M packs X k-major and runs the packed form.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "isa.h"
#include "sparsenn/ops.h"
#include "spmm_csr_kernels.h"
#include "threadpool.h"

namespace sparsenn {

namespace {

// Per-row cost in "nonzeros": the row setup and horizontal sum.
constexpr int64_t kRowCost = 8;
// At and above this many X rows, transposing X into k-major blocks (packed form) beats gathers.
constexpr int64_t kPackedMinRows = 16;
// Rows per cache block in the gather form: a block's W entries stay in L2 while every
// chunk of up to 8 X rows passes over them.
constexpr int64_t kGatherRowBlock = 64;
// Parts per thread, handed out dynamically by the pool.
constexpr int64_t kPartsPerThread = 4;

// Row boundaries b[0..parts] so that each [b[t], b[t+1]) holds about the same cost.
std::vector<int64_t> balanced_rows(const CsrView& w, int64_t parts) {
  const int64_t N = w.rows;
  const auto cost = [&](int64_t n) { return int64_t(w.row_ptr[n]) + kRowCost * n; };
  const int64_t total = cost(N);
  std::vector<int64_t> bounds(size_t(parts) + 1, N);
  bounds[0] = 0;
  int64_t n = 0;
  for (int64_t t = 1; t < parts; ++t) {
    const int64_t target = total * t / parts;
    // cost() is monotone (row_ptr is checked monotone by the binding): binary search.
    int64_t lo = n, hi = N;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (cost(mid) < target) lo = mid + 1; else hi = mid;
    }
    n = lo;
    bounds[size_t(t)] = n;
  }
  return bounds;
}

}  // namespace

void pack_x_kmajor(const F32View& x, int64_t m0, int64_t rows, int64_t mb, float* xt) {
  parallel_ranges(x.cols, 64, [&](int64_t kb, int64_t ke) {
    // 64-column tiles: each X row segment is read contiguously, xt written in L1-sized pieces.
    for (int64_t k0 = kb; k0 < ke; k0 += 64) {
      const int64_t k1 = std::min(ke, k0 + 64);
      for (int64_t m = 0; m < mb; ++m) {
        if (m < rows) {
          const float* src = x.data + (m0 + m) * x.cols;
          for (int64_t k = k0; k < k1; ++k) xt[k * mb + m] = src[k];
        } else {
          for (int64_t k = k0; k < k1; ++k) xt[k * mb + m] = 0.f;
        }
      }
    }
  });
}

bool matmul_csr(const F32View& x, const CsrView& w, const MutF32View& y) {
  static const CsrGatherRowsFn gather = pick_kernel<CsrGatherRowsFn>(
      SPARSENN_X86_KERNEL(avx512::csr_gather_rows), SPARSENN_X86_KERNEL(avx2::csr_gather_rows), portable::csr_gather_rows);
  static const CsrPackedRowsFn packed = pick_kernel<CsrPackedRowsFn>(
      SPARSENN_X86_KERNEL(avx512::csr_packed_rows), SPARSENN_X86_KERNEL(avx2::csr_packed_rows), portable::csr_packed_rows);
  const int64_t M = x.rows, N = w.rows, K = w.cols;
  if (M == 0 || N == 0) return true;
  // A few parts per thread: the pool hands them out dynamically, so a thread the OS
  // preempts (a busy server) delays the op by a small part, not by half of it.
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(int64_t(thread_count()) * kPartsPerThread, N));
  const std::vector<int64_t> bounds = balanced_rows(w, parts);
  std::atomic<bool> ok{true};

  if (M < kPackedMinRows) {
    parallel_for(parts, [&](int64_t t) {
      bool part_ok = true;
      for (int64_t n0 = bounds[size_t(t)]; n0 < bounds[size_t(t) + 1]; n0 += kGatherRowBlock) {
        const int64_t n1 = std::min(bounds[size_t(t) + 1], n0 + kGatherRowBlock);
        for (int64_t m0 = 0; m0 < M; m0 += 8) {
          const int64_t mr = std::min<int64_t>(8, M - m0);
          part_ok &= gather(w, x.data + m0 * x.cols, x.cols, mr, y.data + m0 * y.cols, y.cols, n0, n1);
        }
      }
      if (!part_ok) ok = false;
    });
    return ok;
  }

  static const CsrBlockedRowsFn blocked = pick_kernel<CsrBlockedRowsFn>(
      SPARSENN_X86_KERNEL(avx512::csr_blocked_rows), SPARSENN_X86_KERNEL(avx2::csr_blocked_rows), nullptr);
  if (blocked) {
    // K-blocked packed form: all of X packed at once into panels of P rows, xp[mt][K][P].
    const int64_t P = blocked == SPARSENN_X86_KERNEL(avx512::csr_blocked_rows) ? kCsrPanelAvx512 : kCsrPanelAvx2;
    const int64_t panels = (M + P - 1) / P;
    std::unique_ptr<float[]> storage(new float[size_t(panels * K * P + 16)]);
    float* xp = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(storage.get()) + 63) & ~uintptr_t(63));
    for (int64_t mt = 0; mt < panels; ++mt) pack_x_kmajor(x, mt * P, std::min(P, M - mt * P), P, xp + mt * K * P);
    parallel_for(parts, [&](int64_t t) {
      if (!blocked(w, xp, panels * P, y.data, y.cols, M, bounds[size_t(t)], bounds[size_t(t) + 1])) ok = false;
    });
    return ok;
  }

  // Packed form: X rows in blocks of up to 64, each transposed to xt[K][mb].
  std::unique_ptr<float[]> xt(new float[size_t(K) * 64]);
  for (int64_t m0 = 0; m0 < M; m0 += 64) {
    const int64_t rows = std::min<int64_t>(64, M - m0);
    const int64_t mb = rows <= 16 ? 16 : rows <= 32 ? 32 : 64;
    pack_x_kmajor(x, m0, rows, mb, xt.get());
    parallel_for(parts, [&](int64_t t) {
      if (!packed(w, xt.get(), mb, y.data + m0 * y.cols, y.cols, rows, bounds[size_t(t)], bounds[size_t(t) + 1]))
        ok = false;
    });
  }
  return ok;
}

}  // namespace sparsenn
