// Host-side (plain C++, no CUDA) conversion of weights into the register-fragment tiles that
// the tensor-core kernels read. Done once at upload, so the kernels load each lane's A operand
// with one coalesced 16-byte load and never shuffle, and so that this index math can be tested
// on a machine without a GPU (test/cuda/tile_layout_check.cc).
//
// A weight W [rows, cols] (rows = out_features, cols = in_features) is cut into tiles of
// 16 rows x 32 columns; tile (tn, tk) is stored at index tn * tiles_k + tk, padded with zeros.
// Y = X · Wᵀ is computed as Yᵀ = W · Xᵀ, so W is the MMA's A operand (row-major) and X its
// B operand ("col" layout: column j of B is row j of X, contiguous along K).
//
// Lane numbering is PTX's: g = lane >> 2 (groupID), t = lane & 3 (threadID_in_group).
//
// Sparse (2:4) tiles feed mma.sp::ordered_metadata.m16n8k32 (f16/bf16, sparsity selector 0):
//   values: 32 lanes x 4 u32 per tile. Register r of lane (g, t) holds the two kept values of
//           4-column chunk  t + 4*(r >> 1)  of row  g + 8*(r & 1)  (low half = lower column);
//           this is the dense m16n8k16 A layout applied to the compressed 16x16 matrix.
//   meta:   16 u32 per tile; entry 2*g + h serves lanes (g, t) with t & 1 == h (selector 0 means
//           lanes t = 0, 1 supply it). Bits [15:0] cover row g, bits [31:16] row g + 8; within
//           a half, chunk 4*h + j uses bits [4j+3 : 4j]: low 2 bits = position of the first kept
//           value, high 2 bits = the second (strictly increasing, as ::ordered_metadata needs).
// Dense tiles feed two mma.m16n8k16 per 32 columns:
//   values: 32 lanes x 8 u32 per tile; registers 4q .. 4q+3 are the m16n8k16 A fragment of
//           columns 16q .. 16q+15: register 4q + s holds row g + 8*(s & 1), columns
//           16q + 2t + 8*(s >> 1) + {0, 1}.
// Activations X [M, K] (the B operand) are packed the same way, per 8 tokens x 32 columns:
//   32 lanes x 4 u32 per tile, tile (token tile tm, tk) at tm * tiles_k + tk; register j of
//   lane (g, t) holds token 8*tm + g, columns 32*tk + 2t + 8j + {0, 1} (the m16n8k32 B
//   fragment; registers 0-1 and 2-3 are the two m16n8k16 B fragments), so a lane loads its
//   whole B fragment with one 16-byte load.
#pragma once
#if defined(__CUDACC__)
#define SPARSENN_HD __host__ __device__
#else
#define SPARSENN_HD
#endif
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace sparsenn::cuda {

constexpr int64_t kTileRows = 16;
constexpr int64_t kTileCols = 32;
constexpr int64_t kSparseWordsPerTile = 32 * 4;  // values (u32) per sparse tile
constexpr int64_t kMetaWordsPerTile = 16;        // metadata (u32) per sparse tile
constexpr int64_t kDenseWordsPerTile = 32 * 8;   // values (u32) per dense tile

struct TileGeometry {
  int64_t rows = 0, cols = 0;
  int64_t tiles_n = 0, tiles_k = 0;
  int64_t tiles() const { return tiles_n * tiles_k; }
};

inline TileGeometry tile_geometry(int64_t rows, int64_t cols) {
  TileGeometry g;
  g.rows = rows;
  g.cols = cols;
  g.tiles_n = (rows + kTileRows - 1) / kTileRows;
  g.tiles_k = (cols + kTileCols - 1) / kTileCols;
  return g;
}

// Fills out[0 .. cols) with row `row` of W as raw 16-bit (f16 or bf16) bits.
using RowSource = std::function<void(int64_t row, uint16_t* out)>;

// +0 and -0 are the zeros of both f16 and bf16.
inline bool is_zero16(uint16_t bits) { return (bits & 0x7fffu) == 0; }

struct SparseTiles {
  TileGeometry geo;
  std::vector<uint32_t> values;  // geo.tiles() * kSparseWordsPerTile
  std::vector<uint32_t> meta;    // geo.tiles() * kMetaWordsPerTile
};

struct DenseTiles {
  TileGeometry geo;
  std::vector<uint32_t> values;  // geo.tiles() * kDenseWordsPerTile
};

// Packs W into 2:4 tiles. Every aligned group of 4 columns of a row may hold at most 2 nonzeros
// (so 2:4, 1:4 and 1:2 weights qualify); otherwise returns a message naming the first offending
// group and leaves `out` unspecified. Returns "" on success.
inline std::string pack_sparse24(int64_t rows, int64_t cols, const RowSource& row_source, SparseTiles* out) {
  out->geo = tile_geometry(rows, cols);
  const TileGeometry& geo = out->geo;
  out->values.assign(size_t(geo.tiles() * kSparseWordsPerTile), 0u);
  out->meta.assign(size_t(geo.tiles() * kMetaWordsPerTile), 0u);
  // Padding (and all-zero groups) must still carry valid metadata: positions 0 and 1.
  // Nibble 0x4 = first 0, second 1, in all eight nibbles.
  std::fill(out->meta.begin(), out->meta.end(), 0x44444444u);

  std::vector<uint16_t> row(size_t(geo.tiles_k * kTileCols), 0);
  for (int64_t r = 0; r < rows; ++r) {
    std::fill(row.begin(), row.end(), uint16_t(0));
    row_source(r, row.data());
    const int64_t tn = r / kTileRows, rr = r % kTileRows;
    const int64_t g = rr % 8, hi = rr / 8;
    for (int64_t chunk = 0; chunk < geo.tiles_k * 8; ++chunk) {
      const uint16_t* c4 = row.data() + chunk * 4;
      int pos[2];
      uint16_t val[2];
      int kept = 0;
      for (int p = 0; p < 4; ++p) {
        if (is_zero16(c4[p])) continue;
        if (kept == 2)
          return "row " + std::to_string(r) + ", columns " + std::to_string(chunk * 4) + ".." +
                 std::to_string(chunk * 4 + 3) + " hold more than 2 nonzeros (not 2:4 sparse)";
        pos[kept] = p;
        val[kept] = c4[p];
        ++kept;
      }
      // Fill up with zero values at the lowest unused positions, keeping positions increasing.
      for (int p = 0; kept < 2; ++p) {
        if (kept == 1 && pos[0] == p) continue;
        if (kept == 1 && p < pos[0]) {
          pos[1] = pos[0];
          val[1] = val[0];
          pos[0] = p;
          val[0] = 0;
        } else {
          pos[kept] = p;
          val[kept] = 0;
        }
        ++kept;
      }
      const int64_t tk = chunk / 8, cc = chunk % 8;
      const int64_t tile = tn * geo.tiles_k + tk;
      const int64_t t = cc & 3, reg = hi + 2 * (cc >> 2), lane = 4 * g + t;
      out->values[size_t(tile * kSparseWordsPerTile + lane * 4 + reg)] = uint32_t(val[0]) | (uint32_t(val[1]) << 16);
      const int64_t h = cc >> 2, j = cc & 3;
      uint32_t& m = out->meta[size_t(tile * kMetaWordsPerTile + 2 * g + h)];
      const int shift = int(16 * hi + 4 * j);
      m = (m & ~(0xfu << shift)) | (uint32_t(pos[0] | (pos[1] << 2)) << shift);
    }
  }
  return "";
}

// Packs W into dense tiles (zero padded).
inline void pack_dense(int64_t rows, int64_t cols, const RowSource& row_source, DenseTiles* out) {
  out->geo = tile_geometry(rows, cols);
  const TileGeometry& geo = out->geo;
  out->values.assign(size_t(geo.tiles() * kDenseWordsPerTile), 0u);
  std::vector<uint16_t> row(size_t(geo.tiles_k * kTileCols), 0);
  for (int64_t r = 0; r < rows; ++r) {
    std::fill(row.begin(), row.end(), uint16_t(0));
    row_source(r, row.data());
    const int64_t tn = r / kTileRows, rr = r % kTileRows, g = rr % 8, hi = rr / 8;
    for (int64_t c = 0; c < geo.tiles_k * kTileCols; ++c) {
      const int64_t tk = c / kTileCols, kk = c % kTileCols;
      const int64_t q = kk / 16, c16 = kk % 16, upper = c16 / 8, t = (c16 % 8) / 2, half = c16 % 2;
      const int64_t reg = 4 * q + hi + 2 * upper, lane = 4 * g + t;
      uint32_t& w = out->values[size_t((tn * geo.tiles_k + tk) * kDenseWordsPerTile + lane * 8 + reg)];
      w |= uint32_t(row[size_t(c)]) << (16 * half);
    }
  }
}

// Reference re-expansion, written independently of the packers: walks lanes and registers the
// way the PTX fragment description reads (lane, register -> row, column) and scatters into a
// dense [rows, cols] array. Returns "" or a message for invalid metadata.
inline std::string unpack_sparse24(const SparseTiles& in, uint16_t* dense) {
  const TileGeometry& geo = in.geo;
  std::memset(dense, 0, size_t(geo.rows * geo.cols) * sizeof(uint16_t));
  for (int64_t tn = 0; tn < geo.tiles_n; ++tn)
    for (int64_t tk = 0; tk < geo.tiles_k; ++tk) {
      const int64_t tile = tn * geo.tiles_k + tk;
      for (int lane = 0; lane < 32; ++lane) {
        const int g = lane >> 2, t = lane & 3;
        for (int r = 0; r < 4; ++r) {
          const int row_in_tile = g + 8 * (r & 1);
          const int compressed_col = 2 * t + 8 * (r >> 1);  // m16n8k16 A layout, element 0 of the pair
          const int chunk = compressed_col / 2;               // two kept values per 4-column chunk
          // Metadata for this (row, chunk): the word of lane (g, chunk / 4), half by row.
          const uint32_t word = in.meta[size_t(tile * kMetaWordsPerTile + 2 * g + chunk / 4)];
          const uint32_t nib = (word >> (16 * (row_in_tile / 8) + 4 * (chunk % 4))) & 0xfu;
          const int p0 = int(nib & 3u), p1 = int(nib >> 2);
          if (p0 >= p1) return "tile " + std::to_string(tile) + ": metadata positions not increasing";
          const uint32_t v = in.values[size_t(tile * kSparseWordsPerTile + lane * 4 + r)];
          const int64_t row = tn * kTileRows + row_in_tile;
          const int64_t col0 = tk * kTileCols + 4 * chunk;
          const uint16_t vals[2] = {uint16_t(v & 0xffffu), uint16_t(v >> 16)};
          const int ps[2] = {p0, p1};
          for (int e = 0; e < 2; ++e) {
            const int64_t col = col0 + ps[e];
            if (row < geo.rows && col < geo.cols) dense[row * geo.cols + col] = vals[e];
            else if (!is_zero16(vals[e])) return "nonzero value in the padding";
          }
        }
      }
    }
  return "";
}

inline void unpack_dense(const DenseTiles& in, uint16_t* dense) {
  const TileGeometry& geo = in.geo;
  std::memset(dense, 0, size_t(geo.rows * geo.cols) * sizeof(uint16_t));
  for (int64_t tn = 0; tn < geo.tiles_n; ++tn)
    for (int64_t tk = 0; tk < geo.tiles_k; ++tk)
      for (int lane = 0; lane < 32; ++lane) {
        const int g = lane >> 2, t = lane & 3;
        for (int reg = 0; reg < 8; ++reg) {
          const int q = reg / 4, s = reg % 4;
          const int row_in_tile = g + 8 * (s & 1);
          const int col_in_tile = 16 * q + 2 * t + 8 * (s >> 1);
          const uint32_t v = in.values[size_t((tn * geo.tiles_k + tk) * kDenseWordsPerTile + lane * 8 + reg)];
          for (int e = 0; e < 2; ++e) {
            const int64_t row = tn * kTileRows + row_in_tile, col = tk * kTileCols + col_in_tile + e;
            if (row < geo.rows && col < geo.cols) dense[row * geo.cols + col] = uint16_t(v >> (16 * e));
          }
        }
      }
}

// Row source for the N:M format given as kept values plus one position byte per kept value:
// row r, group q (columns q*m .. q*m+m-1) keeps values[(r*groups + q)*n + j] at column
// q*m + positions[(r*groups + q)*n + j], groups = ceil(cols / m). Zero values are padding.
// Returns "" when every position is inside its group and inside the matrix.
inline std::string check_nm_positions(int64_t rows, int64_t cols, int n, int m, const uint16_t* values,
                                      const uint8_t* positions) {
  const int64_t groups = (cols + m - 1) / m;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q = 0; q < groups; ++q)
      for (int j = 0; j < n; ++j) {
        const int64_t i = (r * groups + q) * n + j;
        if (is_zero16(values[i])) continue;
        const int64_t col = q * m + positions[i];
        if (positions[i] >= m || col >= cols)
          return "N:M position " + std::to_string(positions[i]) + " out of range at row " + std::to_string(r) +
                 ", group " + std::to_string(q);
        for (int j2 = 0; j2 < j; ++j2)
          if (positions[i - j + j2] == positions[i] && !is_zero16(values[i - j + j2]))
            return "N:M position " + std::to_string(positions[i]) + " used twice at row " + std::to_string(r) +
                   ", group " + std::to_string(q);
      }
  return "";
}

inline RowSource nm_row_source(int64_t cols, int n, int m, const uint16_t* values, const uint8_t* positions) {
  const int64_t groups = (cols + m - 1) / m;
  return [=](int64_t r, uint16_t* out) {
    for (int64_t q = 0; q < groups; ++q)
      for (int j = 0; j < n; ++j) {
        const int64_t i = (r * groups + q) * n + j;
        if (!is_zero16(values[i])) out[q * m + positions[i]] = values[i];
      }
  };
}

inline RowSource dense_row_source(int64_t cols, const uint16_t* w) {
  return [=](int64_t r, uint16_t* out) { std::memcpy(out, w + r * cols, size_t(cols) * sizeof(uint16_t)); };
}

// Where element (token m, column k) of X goes in the packed activations: the u32 index and the
// half (0 = low 16 bits) inside it. Used by the packing kernel (convert_activations.cu).
struct ActivationSlot {
  int64_t word;
  int half;
};
SPARSENN_HD inline ActivationSlot activation_slot(int64_t m, int64_t k, int64_t tiles_k) {
  const int64_t tm = m / 8, g = m % 8, tk = k / kTileCols, kk = k % kTileCols;
  const int64_t j = kk / 8, t = (kk % 8) / 2;
  return {((tm * tiles_k + tk) * 32 + 4 * g + t) * 4 + j, int(kk % 2)};
}

// The inverse, written the way the fragment description reads: (word, half) -> (m, k).
SPARSENN_HD inline void activation_coords(int64_t word, int half, int64_t tiles_k, int64_t* m, int64_t* k) {
  const int64_t j = word % 4, lane = (word / 4) % 32, tile = word / 128;
  const int64_t tm = tile / tiles_k, tk = tile % tiles_k;
  *m = 8 * tm + lane / 4;
  *k = kTileCols * tk + 2 * (lane % 4) + 8 * j + half;
}

}  // namespace sparsenn::cuda
