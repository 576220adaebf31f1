// The per-ISA step of the fused Quest / Double Sparsity selection (native/cpu/attention_select.cc):
// group-max scores of whole tiles of 16 bf16 rows in the tiled layout of sparsenn/attention_select.h.
#pragma once
#include <cstdint>

namespace sparsenn {

// For `tiles` consecutive tiles of `width` channels (tile i at element i*width*16 of tiles_data):
// out[16*i + j] = max over g < groups of Σ_c a[g*a_stride + c] · row j of tile i, channel c.
// Rows are bf16 when scales is null; otherwise int8 codes, and out[16*i + j] is multiplied by
// scales[16*i + j] (the row's scale, >= 0, so it commutes with the max).
using TileScoresFn = void (*)(const float* a, int64_t a_stride, int64_t groups, const void* tiles_data, const float* scales,
                              int64_t width, int64_t tiles, float* out);

namespace portable { void tile_scores(const float*, int64_t, int64_t, const void*, const float*, int64_t, int64_t, float*); }
namespace avx2 { void tile_scores(const float*, int64_t, int64_t, const void*, const float*, int64_t, int64_t, float*); }
namespace avx512 { void tile_scores(const float*, int64_t, int64_t, const void*, const float*, int64_t, int64_t, float*); }

// Quest page scores of `tiles` consecutive tiles of int8 [hi(D), lo(D)] rows with their scales
// (scales[16*i + j]): out[16*i + j] = scale · max over the group's queries g of
// Σ_d q_g,d · (q_g,d > 0 ? hi_d : lo_d), the same value as the [q⁺, q⁻] dot product with half the
// multiply-adds. The group's queries (q + g*D, g < groups) go in chunks of up to 4; chunk c's
// plan (at plan + c*(17 + D)) lists the dims grouped by their sign pattern over the chunk's
// queries: runs[0..16] (start of each pattern's dims, bit g set = q_g,d > 0), then the dims.
using QuestTileScoresFn = void (*)(const float* q, int64_t groups, const int32_t* plan, const int8_t* tiles_data,
                                   const float* scales, int64_t D, int64_t tiles, float* out);

namespace avx512 { void quest_tile_scores(const float*, int64_t, const int32_t*, const int8_t*, const float*, int64_t, int64_t, float*); }

// Writes the indices i < n with s[i] >= low (NaN never), ascending, to idx and returns how many.
// idx must have room for n + 16 entries (a variant may store whole vectors past the count).
using CollectAtLeastFn = int64_t (*)(const float* s, int64_t n, float low, uint32_t* idx);

namespace portable { int64_t collect_at_least(const float*, int64_t, float, uint32_t*); }
namespace avx2 { int64_t collect_at_least(const float*, int64_t, float, uint32_t*); }
namespace avx512 { int64_t collect_at_least(const float*, int64_t, float, uint32_t*); }

}  // namespace sparsenn
