// The per-ISA steps of the fused Quest selection (native/cpu/attention_select.cc): integer page
// scores of whole tiles of 16 rows in the tiled layout of sparsenn/attention_select.h.
#pragma once
#include <cstdint>

namespace sparsenn {

// Quest page scores in integers, `tiles` consecutive tiles of int8 [hi(D), lo(D)] rows with their
// page scales (scales[16*i + j]). Each of the `groups` query heads comes quantised (quest_select):
// u8 codes u[g*2D ..] = [q⁺ codes (D), q⁻ codes (D)] (|q_d| in units of qscales[g]; a dim has at
// most one of the two nonzero), and
//   I_g = Σ_{c<D} u[c]·hi_c − Σ_{c<D} u[D+c]·lo_c            (exact int32)
//   out[16*i + j] = scale · max over g of (qscales[g] · float(I_g))   (f32 multiplies, max as t > best ? t : best)
// Every variant computes the same integers and the same three roundings, so the scores are bit-identical
// on every ISA and in the js reference. D <= 65536 keeps |I_g| < 2^31.
using QuestIntScoresFn = void (*)(const uint8_t* u, const float* qscales, int64_t groups, const int8_t* tiles_data,
                                  const float* scales, int64_t D, int64_t tiles, float* out);

namespace portable { void quest_int_scores(const uint8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*); }
namespace avx2 { void quest_int_scores(const uint8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*); }
// AVX-512 VNNI + VBMI (vpdpbusd on 4 channels x 16 pages, vpermb to gather them): D a multiple of 4
// only, and only where cpu_has_avx512_vnni_vbmi() (isa.h: the addon's AVX-512 flags do not imply these).
namespace avx512 {
void quest_int_scores(const uint8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*);
// The plain loops compiled at AVX-512 width (any D, no VNNI needed).
void quest_int_scores_f32(const uint8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*);
}

}  // namespace sparsenn
