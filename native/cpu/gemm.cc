// Dense Y[M,N] = X[M,K] · Wᵀ: picks the ISA variant once, chooses the decode (GEMV) or
// prefill (blocked GEMM) path by M, and splits the work over the thread pool (slices of
// W rows; for the blocked path, tiles of X-row chunk x W-row slice).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "gemm_kernels.h"
#include "isa.h"
#include "sparsenn/ops.h"
#include "threadpool.h"

namespace sparsenn {

namespace {

// X is processed in chunks of at most this many rows, so a packed k-slice of a chunk
// (rows x 512 floats) stays in L2 while every W row group reuses it.
constexpr int64_t kGemmChunkRows = 256;

// A float buffer aligned to a cache line (the packed X panels and the per-task scratch).
class AlignedFloats {
 public:
  explicit AlignedFloats(int64_t n) : raw_(new float[size_t(n) + 16]) {
    const uintptr_t p = reinterpret_cast<uintptr_t>(raw_.get());
    data_ = reinterpret_cast<float*>((p + 63) & ~uintptr_t(63));
  }
  float* data() const { return data_; }

 private:
  std::unique_ptr<float[]> raw_;
  float* data_;
};

const DenseKernels& kernels() {
  static const DenseKernels* k = pick_kernel<const DenseKernels*>(
      SPARSENN_X86_KERNEL(&avx512::kDenseKernels), SPARSENN_X86_KERNEL(&avx2::kDenseKernels),
      &portable::kDenseKernels);
  return *k;
}

// Rows [m0, m0 + rows) of X packed into k-major panels for the blocked kernel.
struct PackedChunk {
  F32View x;
  MutF32View y;
  int64_t width;
  int64_t panels;
  AlignedFloats xp;
  PackedChunk(const DenseKernels& k, const F32View& xa, const MutF32View& ya, int64_t m0, int64_t rows)
      : x{xa.data + m0 * xa.cols, rows, xa.cols},
        y{ya.data + m0 * ya.cols, rows, ya.cols},
        width(k.panel_width(rows)),
        panels((rows + width - 1) / width),
        xp(panels * xa.cols * width) {}
};

// The blocked path for X rows [0, rows): packs every chunk's panels, then runs tiles of
// (chunk, slice of W rows) over the pool, so a tall X with a narrow W still uses every core.
void gemm_blocked(const DenseKernels& k, const F32View& x, const DenseView& w, const MutF32View& y, int64_t rows) {
  const int64_t K = x.cols, N = w.rows;
  std::vector<std::unique_ptr<PackedChunk>> chunks;
  for (int64_t m0 = 0; m0 < rows; m0 += kGemmChunkRows)
    chunks.push_back(std::make_unique<PackedChunk>(k, x, y, m0, std::min(kGemmChunkRows, rows - m0)));
  std::vector<std::pair<int64_t, int64_t>> panels;  // (chunk, panel)
  for (int64_t c = 0; c < int64_t(chunks.size()); ++c)
    for (int64_t p = 0; p < chunks[size_t(c)]->panels; ++p) panels.emplace_back(c, p);
  parallel_for(int64_t(panels.size()), [&](int64_t i) {
    const PackedChunk& ch = *chunks[size_t(panels[size_t(i)].first)];
    const int64_t p = panels[size_t(i)].second;
    k.pack_x_panel(ch.x, p * ch.width, ch.width, ch.xp.data() + p * K * ch.width);
  });
  // About four tiles per thread in all (uneven progress on a busy machine still balances),
  // each a whole number of the kernel's cache blocks of W rows.
  struct Tile {
    int64_t chunk, n_begin, n_end;
  };
  std::vector<Tile> tiles;
  const int64_t want = std::max<int64_t>(1, (int64_t(thread_count()) * 4 + int64_t(chunks.size()) - 1) / int64_t(chunks.size()));
  for (int64_t c = 0; c < int64_t(chunks.size()); ++c) {
    const int64_t align = k.gemm_block_rows(chunks[size_t(c)]->width);
    const int64_t units = (N + align - 1) / align;
    const int64_t per = (units + std::min(units, want) - 1) / std::min(units, want);
    for (int64_t u = 0; u < units; u += per) tiles.push_back({c, u * align, std::min(N, (u + per) * align)});
  }
  parallel_for(int64_t(tiles.size()), [&](int64_t t) {
    const Tile& tile = tiles[size_t(t)];
    const PackedChunk& ch = *chunks[size_t(tile.chunk)];
    AlignedFloats scratch(k.gemm_scratch_floats(ch.x.rows, ch.width));
    k.gemm_range(ch.xp.data(), ch.width, ch.x, w, ch.y, tile.n_begin, tile.n_end, scratch.data());
  });
}

void gemv(const DenseKernels& k, const F32View& x, const DenseView& w, const MutF32View& y) {
  parallel_ranges(w.rows, 16, [&](int64_t b, int64_t e) { k.gemv_range(x, w, y, b, e); });
}

}  // namespace

void matmul_dense(const F32View& x, const DenseView& w, const MutF32View& y) {
  const DenseKernels& k = kernels();
  const int64_t M = x.rows, N = w.rows, K = w.cols;
  if (M == 0 || N == 0) return;
  // Small M (decode): W streamed once through the GEMV tile, no packing of X.
  if (M <= k.gemv_max_rows || K == 0 || !k.gemm_range) return gemv(k, x, w, y);
  // A short tail past the last full chunk (e.g. M = 257) is cheaper on the GEMV path than
  // as a mostly-padded X panel.
  const int64_t tail = M % kGemmChunkRows;
  const int64_t blocked = tail != 0 && tail <= k.gemv_max_rows ? M - tail : M;
  gemm_blocked(k, x, w, y, blocked);
  if (blocked < M)
    gemv(k, F32View{x.data + blocked * K, M - blocked, K}, w, MutF32View{y.data + blocked * N, M - blocked, N});
}

}  // namespace sparsenn
