/**
 * Quest's page scores in integers. Each query head is rounded to 8 bits (|q_d| in units of
 * max|q|/255, one unit per head), so a page's bound is an exact integer sum of u8 query codes times
 * the page's int8 [hi, lo] codes, scaled twice in f32:
 *
 *   I_g(p)     = Σ_{q_d > 0} u_d·hi_d − Σ_{q_d < 0} u_d·lo_d          (exact)
 *   score_h(p) = s_p · max over h's group g of (unit_g · I_g(p))       (each product rounded to f32)
 *
 * That is Σ_d max(q̃_d·hi_d, q̃_d·lo_d) · s_p for the rounded query q̃ (an upper bound of q̃·k for
 * every key of the page). The integer sum is what AVX-512 VNNI (vpdpbusd: u8 × s8, 4 channels × 16
 * pages per instruction) computes fastest; being exact, it gives the same bits on every ISA and here,
 * so the native selection equals this reference list for list, tie order included.
 *
 * Every f32 step below is written with Math.fround and mirrors native/cpu/attention_select.cc
 * (quest_query_codes): r = 255/m, y = |q_d|·r, code = round-half-even(y) (at most 255), unit = m/255.
 */
import { F32_MIN_NORMAL, roundHalfEven } from './rounding';
import type { ScaledInt8Rows } from './selection_contract';
import { tiledIndex } from './selection_contract';

export interface QuestQueryCodes {
  /** [u⁺ (D), u⁻ (D)]: the code of |q_d| at d when q_d > 0, at D + d when q_d < 0, else 0. */
  readonly codes: Uint8Array;
  /** f32 value of one code step (max|q|/255); 0 for a zero query; NaN when q holds NaN or ±Infinity. */
  readonly unit: number;
}

/** Head dims up to this keep every integer sum exact in int32 (255 · 128 · 65536 < 2^31). */
export const QUEST_MAX_HEAD_DIM = 65536;

/** The 8-bit codes of one query head, q[offset .. offset + D). */
export function questQueryCodes(q: ArrayLike<number>, offset: number, D: number): QuestQueryCodes {
  const codes = new Uint8Array(2 * D);
  let m = 0;
  for (let d = 0; d < D; d++) {
    const a = Math.abs(q[offset + d]!);
    if (!Number.isFinite(a)) return { codes, unit: NaN };
    m = Math.max(m, a);
  }
  if (m < F32_MIN_NORMAL) return { codes, unit: 0 };
  const r = Math.fround(255 / m);
  for (let d = 0; d < D; d++) {
    const x = q[offset + d]!;
    const c = Math.min(255, roundHalfEven(Math.fround(Math.abs(x) * r)));
    if (x > 0) codes[d] = c;
    else if (x < 0) codes[D + d] = c;
  }
  return { codes, unit: Math.fround(m / 255) };
}

/** I_g(p): the exact integer bound of one quantised query head against page p of KV head h. */
export function questIntegerBound(c: QuestQueryCodes, bounds: ScaledInt8Rows, h: number, p: number): number {
  const D = bounds.width / 2;
  let s = 0;
  for (let d = 0; d < D; d++) {
    const up = c.codes[d]!;
    const down = c.codes[D + d]!;
    if (up !== 0) s += up * bounds.data[tiledIndex(bounds, h, p, d)]!;
    if (down !== 0) s -= down * bounds.data[tiledIndex(bounds, h, p, D + d)]!;
  }
  return s;
}

/** unit_g · I_g(p) in f32: one head's unscaled page score (multiply by the page scale after the group max). */
export function questHeadScore(c: QuestQueryCodes, bounds: ScaledInt8Rows, h: number, p: number): number {
  return Math.fround(c.unit * Math.fround(questIntegerBound(c, bounds, h, p)));
}
