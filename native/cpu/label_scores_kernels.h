// The per-ISA step of Double Sparsity's selection (native/cpu/attention_select.cc, label_select):
// integer scores of whole tiles of 16 int8 label rows in the tiled layout of
// sparsenn/attention_select.h.
#pragma once
#include <cstdint>

namespace sparsenn {

// `tiles` consecutive tiles of int8 label rows, `r` channels each (tile i at byte i*16*r), with
// the rows' scales (scales[16*i + j]). Each of the `groups` query heads comes quantised as Quest's
// are (label_select): u8 codes u[g*2r ..] = [q⁺ codes (r), q⁻ codes (r)] of its label channels (a
// channel has at most one of the two nonzero) and the unit qscales[g], and
//   I_g = Σ_{c<r} u[c]·code_c − Σ_{c<r} u[r+c]·code_c                    (exact int32)
//   out[16*i + j] = scale · max over g of (qscales[g] · float(I_g))   (f32 multiplies, max as t > best ? t : best)
// Every variant computes the same integers and the same roundings, so scores are bit-identical on
// every ISA and in the js reference (lib/backend/js/attention_select.ts). r <= 65536 keeps
// |I_g| < 2^31.
using LabelIntScoresFn = void (*)(const uint8_t* u, const float* qscales, int64_t groups, const int8_t* tiles_data,
                                  const float* scales, int64_t r, int64_t tiles, float* out);

// label4_int_scores: the same scores of 4-bit label tiles (two codes a byte, channel 2j in the low
// nibble of byte column j: tile i at byte i*16*ceil(r/2)); the same integers, the same bits.
namespace portable {
void label_int_scores(const uint8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*);
void label4_int_scores(const uint8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*);
}
namespace avx2 {
void label_int_scores(const uint8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*);
void label4_int_scores(const uint8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*);
}
// AVX-512 VNNI + VBMI (vpdpbusd on 4 channels x 16 tokens, vpermb to gather them): r a multiple of
// 4 (8-bit) or of 8 (4-bit) only, and only where label_vnni_supported() (the addon's AVX-512 flags
// do not imply these).
namespace avx512 {
void label_int_scores(const uint8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*);
void label4_int_scores(const uint8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*);
bool label_vnni_supported();
}

}  // namespace sparsenn
