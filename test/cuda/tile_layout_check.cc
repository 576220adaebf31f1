// CPU check of native/cuda/tile_layout.h (no GPU needed): random 2:4 / 1:4 / dense weights of
// awkward shapes are packed into the tensor-core tiles and re-expanded by the independent
// reference walk; the result must equal the input bit for bit. Invalid inputs must be refused.
// Built and run by test/cuda/tile_layout.test.ts; prints "OK <cases>" or "FAIL ..." and exits 1.
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "tile_layout.h"

using namespace sparsenn::cuda;

static std::mt19937_64 rng(12345);

static uint16_t nonzero_bits() {
  // A random finite f16 / bf16 bit pattern that is not +-0: sign, exponent 1..30, any mantissa.
  const uint16_t sign = uint16_t((rng() & 1) << 15);
  const uint16_t exp = uint16_t(1 + rng() % 30);
  return uint16_t(sign | (exp << 10) | (rng() & 0x3ff));
}

static int fail(const std::string& what) {
  std::printf("FAIL %s\n", what.c_str());
  return 1;
}

int main() {
  int cases = 0;
  const int64_t sizes[] = {1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 47, 64, 65, 100};
  for (int64_t rows : sizes)
    for (int64_t cols : sizes) {
      for (int keep : {2, 1}) {
        // Build an N:M (keep:4) weight as values + position bytes, some groups with fewer nonzeros.
        const int n = keep, m = 4;
        const int64_t groups = (cols + m - 1) / m;
        std::vector<uint16_t> values(size_t(rows * groups * n), 0);
        std::vector<uint8_t> positions(values.size(), 0);
        std::vector<uint16_t> want(size_t(rows * cols), 0);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t q = 0; q < groups; ++q) {
            const int width = int(std::min<int64_t>(m, cols - q * m));
            int perm[4] = {0, 1, 2, 3};
            std::shuffle(perm, perm + width, rng);
            const int count = std::min<int>(n, width) - int(rng() % 4 == 0);  // sometimes one fewer
            std::sort(perm, perm + std::max(count, 0));
            for (int j = 0; j < count; ++j) {
              const size_t i = size_t((r * groups + q) * n + j);
              values[i] = nonzero_bits();
              positions[i] = uint8_t(perm[j]);
              want[size_t(r * cols + q * m + perm[j])] = values[i];
            }
            // Padding entries get a zero value at an arbitrary position (must be ignored).
            for (int j = std::max(count, 0); j < n; ++j) positions[size_t((r * groups + q) * n + j)] = uint8_t(rng() % m);
          }
        const std::string perr = check_nm_positions(rows, cols, n, m, values.data(), positions.data());
        if (!perr.empty()) return fail("valid N:M refused: " + perr);
        SparseTiles tiles;
        std::string err = pack_sparse24(rows, cols, nm_row_source(cols, n, m, values.data(), positions.data()), &tiles);
        if (!err.empty()) return fail("pack_sparse24 refused a valid weight: " + err);
        if (int64_t(tiles.values.size()) != tiles.geo.tiles() * kSparseWordsPerTile) return fail("sparse tile size");
        std::vector<uint16_t> got(want.size(), 0xffff);
        err = unpack_sparse24(tiles, got.data());
        if (!err.empty()) return fail("unpack_sparse24: " + err);
        for (size_t i = 0; i < want.size(); ++i)
          if (got[i] != want[i])
            return fail("sparse round trip " + std::to_string(rows) + "x" + std::to_string(cols) + " at " +
                        std::to_string(i));
        // Every metadata nibble must be one the hardware accepts: increasing positions.
        for (uint32_t w : tiles.meta)
          for (int s = 0; s < 32; s += 4) {
            const uint32_t nib = (w >> s) & 0xfu;
            if ((nib & 3u) >= (nib >> 2)) return fail("metadata nibble not increasing");
          }
        ++cases;

        // Dense tiles of the same weight.
        DenseTiles dense;
        pack_dense(rows, cols, dense_row_source(cols, want.data()), &dense);
        std::vector<uint16_t> got2(want.size(), 0xffff);
        unpack_dense(dense, got2.data());
        if (got2 != want) return fail("dense round trip " + std::to_string(rows) + "x" + std::to_string(cols));
        ++cases;
      }
    }

  // A fully dense weight has 4 nonzeros per group: must be refused with a message naming it.
  {
    std::vector<uint16_t> w(size_t(5 * 9));
    for (auto& v : w) v = nonzero_bits();
    SparseTiles tiles;
    const std::string err = pack_sparse24(5, 9, dense_row_source(9, w.data()), &tiles);
    if (err.find("row 0, columns 0..3") == std::string::npos) return fail("3+ nonzeros not refused: '" + err + "'");
    ++cases;
  }
  // Positions outside the group, past the last column, or used twice are refused.
  {
    std::vector<uint16_t> v = {nonzero_bits(), nonzero_bits()};
    std::vector<uint8_t> p = {0, 4};
    if (check_nm_positions(1, 4, 2, 4, v.data(), p.data()).empty()) return fail("position 4 of 4 accepted");
    p = {0, 3};
    if (check_nm_positions(1, 3, 2, 4, v.data(), p.data()).empty()) return fail("column past the end accepted");
    p = {2, 2};
    if (check_nm_positions(1, 4, 2, 4, v.data(), p.data()).empty()) return fail("duplicate position accepted");
    cases += 3;
  }
  // Activations: every (token, column) of the padded [M_pad, K_pad] lands in its own slot, and
  // the fragment-order walk maps it back.
  for (int64_t M : {1, 8, 13, 64}) {
    for (int64_t K : {1, 31, 32, 100}) {
      const int64_t tiles_k = (K + 31) / 32, M_pad = (M + 7) / 8 * 8, K_pad = tiles_k * 32;
      std::vector<int> seen(size_t(M_pad * K_pad), 0);
      for (int64_t m = 0; m < M_pad; ++m)
        for (int64_t k = 0; k < K_pad; ++k) {
          const ActivationSlot s = activation_slot(m, k, tiles_k);
          const int64_t idx = s.word * 2 + s.half;
          if (idx < 0 || idx >= M_pad * K_pad) return fail("activation slot out of range");
          if (seen[size_t(idx)]++) return fail("two activations share a slot");
          int64_t m2 = -1, k2 = -1;
          activation_coords(s.word, s.half, tiles_k, &m2, &k2);
          if (m2 != m || k2 != k) return fail("activation slot does not map back");
        }
      ++cases;
    }
  }
  std::printf("OK %d\n", cases);
  return 0;
}
