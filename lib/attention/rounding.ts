/** Rounding steps the selection policies' exact integer scores share with native/cpu/attention_select.cc. */

/** Smallest normal f32: a query whose largest |q| is below it scores as a zero query. */
export const F32_MIN_NORMAL = 2 ** -126;

/** Round half to even, symmetric about 0 (C's nearbyint in the default rounding mode). */
export function roundHalfEven(y: number): number {
  const a = Math.abs(y);
  const f = Math.floor(a);
  const frac = a - f;
  const r = frac > 0.5 || (frac === 0.5 && f % 2 === 1) ? f + 1 : f;
  return y < 0 ? -r : r;
}
