/**
 * The scattered-row read that bench/attention.ts times beside the token-list kernel: it must really
 * touch every cache line of every listed row of both arrays (its probe sum equals the same sum in
 * JavaScript, for any thread count), and refuse rows past either array.
 */
import { nativeBinding } from '../lib/backend/native';
import { randInt, rng } from './helpers';

const b = nativeBinding();
const testNative = b ? test : test.skip;

/** The probe sum of the listed rows of a and b (one 64-bit word per line: bytes 0, 64, ... below rowBytes - 8, and the last word), wrapped to 64 bits, as the native double. */
function expected(a: Uint16Array, bb: Uint16Array, rowBytes: number, rowStride: number, rows: Uint32Array): number {
  const wa = new BigUint64Array(a.buffer, a.byteOffset, a.byteLength / 8);
  const wb = new BigUint64Array(bb.buffer, bb.byteOffset, bb.byteLength / 8);
  const offsets = [rowBytes - 8];
  for (let c = 0; c < rowBytes - 8; c += 64) offsets.push(c);
  let s = 0n;
  for (const r of rows) for (const o of offsets) s += wa[(r * rowStride + o) / 8]! + wb[(r * rowStride + o) / 8]!;
  return Number(BigInt.asUintN(64, s));
}

testNative('probes every line of the listed rows of both arrays, any thread count', () => {
  const r = rng(31);
  for (const [rowBytes, rowStride, count] of [[256, 256, 100], [64, 192, 7], [8, 8, 1], [512, 1024, 333]] as const) {
    const slots = 600;
    const a = Uint16Array.from({ length: (slots * rowStride) / 2 }, () => randInt(r, 0, 65535));
    const v = Uint16Array.from({ length: (slots * rowStride) / 2 }, () => randInt(r, 0, 65535));
    const rows = Uint32Array.from({ length: count }, () => randInt(r, 0, slots - 1)).sort();
    const want = expected(a, v, rowBytes, rowStride, rows);
    for (const threads of [1, 2, 7]) expect(b!.benchGatherRead(a, v, rowBytes, rowStride, rows, threads)).toBe(want);
  }
  expect(b!.benchGatherRead(new Uint16Array(64), new Uint16Array(64), 8, 8, new Uint32Array(0), 2)).toBe(0);
});

testNative('rows past an array and bad sizes are coded errors', () => {
  const a = new Uint16Array(512); // 1024 bytes: rows 0..3 of 256
  const long = new Uint16Array(1024);
  const arg = expect.objectContaining({ code: 'ERR_ARG' });
  expect(() => b!.benchGatherRead(a, long, 256, 256, Uint32Array.of(3, 4), 2)).toThrow(arg);
  expect(() => b!.benchGatherRead(long, a, 256, 256, Uint32Array.of(4), 2)).toThrow(arg);
  expect(() => b!.benchGatherRead(a, a, 12, 256, Uint32Array.of(0), 2)).toThrow(arg);
  expect(() => b!.benchGatherRead(a, a, 256, 256, Uint32Array.of(0), 0)).toThrow(arg);
  expect(() => b!.benchGatherRead(a, a, 256, 256, [0] as unknown as Uint32Array, 1)).toThrow(expect.objectContaining({ code: expect.any(String) }));
  expect(b!.benchGatherRead(a, long, 256, 256, Uint32Array.of(3), 2)).toBeGreaterThanOrEqual(0); // the last row fits
});
