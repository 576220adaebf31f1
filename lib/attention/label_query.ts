/**
 * Double Sparsity's query codes. Each query head's label channels are rounded to signed 8-bit codes
 * (q_c in units of max|q|/127, one unit per head), so a token's approximate score is an exact integer
 * sum of query codes times its label codes, scaled twice in f32:
 *
 *   I_g(t)     = Σ_c q̃_c · code_c                                    (exact)
 *   score_h(t) = s_t · max over h's group g of (unit_g · I_g(t))      (each product rounded to f32)
 *
 * Signed query codes let AVX-512 VNNI (vpdpbusd: u8 × s8) take the label codes as its unsigned
 * operand once they are offset by a constant (code + 8 for 4-bit labels, + 128 for int8), and
 * subtract constant · Σ q̃ after: one instruction per 4 channels × 16 tokens and no sign handling.
 * Being exact, every ISA and this reference give the same bits, ties included.
 *
 * Every f32 step below is written with Math.fround and mirrors native/cpu/attention_select.cc
 * (label_query_codes): r = 127/m, code = sign · round-half-even(|q_c|·r) (at most 127), unit = m/127.
 */
import { F32_MIN_NORMAL, roundHalfEven } from './rounding';

export interface LabelQueryCodes {
  /** The signed code of each label channel, within ±127. */
  readonly codes: Int8Array;
  /** f32 value of one code step (max|q|/127); 0 for a zero query; NaN when q holds NaN or ±Infinity. */
  readonly unit: number;
}

/** The codes of one query head's label channels, q[0 .. r). */
export function labelQueryCodes(q: ArrayLike<number>, r: number): LabelQueryCodes {
  const codes = new Int8Array(r);
  let m = 0;
  for (let c = 0; c < r; c++) {
    const a = Math.abs(q[c]!);
    if (!Number.isFinite(a)) return { codes, unit: NaN };
    m = Math.max(m, a);
  }
  if (m < F32_MIN_NORMAL) return { codes, unit: 0 };
  const k = Math.fround(127 / m);
  for (let c = 0; c < r; c++) {
    const x = q[c]!;
    const code = Math.min(127, roundHalfEven(Math.fround(Math.abs(x) * k)));
    codes[c] = x < 0 ? -code : code;
  }
  return { codes, unit: Math.fround(m / 127) };
}
