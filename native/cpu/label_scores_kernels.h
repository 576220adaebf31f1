// The per-ISA step of Double Sparsity's selection (native/cpu/attention_select.cc, label_select):
// integer scores of whole tiles of 16 label rows (int8 or 4-bit codes) in the tiled layout of
// sparsenn/attention_select.h.
#pragma once
#include <cstdint>

namespace sparsenn {

// `tiles` consecutive tiles of label rows, `r` channels each (8-bit: tile i at byte i*16*r), with
// the rows' scales (scales[16*i + j]). Each of the `groups` query heads comes as signed 8-bit codes
// q[g*r .. g*r + r) of its label channels (label_select: within ±127) and its unit qscales[g], and
//   I_g = Σ_{c<r} q[g*r + c]·code_c                                   (exact int32)
//   out[16*i + j] = scale · max over g of (qscales[g] · float(I_g))   (f32 multiplies, max as t > best ? t : best)
// Every variant computes the same integers and the same roundings, so scores are bit-identical on
// every ISA and in the js reference (lib/backend/js/attention_select.ts). r <= 65536 keeps
// |I_g| < 2^31, also for the VNNI kernels' offset codes (255 · 127 · 65536 < 2^31).
using LabelIntScoresFn = void (*)(const int8_t* q, const float* qscales, int64_t groups, const int8_t* tiles_data,
                                  const float* scales, int64_t r, int64_t tiles, float* out);

// label4_int_scores: the same scores of 4-bit label tiles (two codes a byte, channel 2j in the low
// nibble of byte column j: tile i at byte i*16*ceil(r/2)); the same integers, the same bits.
namespace portable {
void label_int_scores(const int8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*);
void label4_int_scores(const int8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*);
}
namespace avx2 {
void label_int_scores(const int8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*);
void label4_int_scores(const int8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*);
}
// AVX-512 VNNI + VBMI (vpdpbusd on 4 channels x 16 tokens, vpermb to gather them; the label codes,
// offset to unsigned, are its u8 operand and the query codes its s8 one): r a multiple of 4 (8-bit)
// or of 8 (4-bit) only, and only where cpu_has_avx512_vnni_vbmi() (isa.h: the addon's AVX-512 flags
// do not imply these).
namespace avx512 {
void label_int_scores(const int8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*);
void label4_int_scores(const int8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*);
}

}  // namespace sparsenn
