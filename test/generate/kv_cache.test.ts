/** KvCache: growth keeps what was written; the context length is a hard limit. */
import { KvCache } from '../../lib/generate/kv_cache';

test('growing keeps every written key and value in place', () => {
  const c = new KvCache(2, 3, 4, 100, 2);
  const row = (pos: number, s: number) => Float32Array.from({ length: 12 }, (_, i) => pos * 100 + i + s);
  for (let pos = 0; pos < 37; pos++) {
    c.reserve(pos + 1);
    for (let l = 0; l < 2; l++) c.write(l, pos, row(pos, l), row(pos, 0.5 + l), 0);
    c.length = pos + 1;
  }
  expect(c.capacity).toBeGreaterThanOrEqual(37);
  for (let pos = 0; pos < 37; pos++)
    for (let h = 0; h < 3; h++)
      for (let d = 0; d < 4; d++) {
        expect(c.keys[1]![c.offset(h, pos) + d]).toBe(pos * 100 + h * 4 + d + 1);
        expect(c.values[0]![c.offset(h, pos) + d]).toBe(pos * 100 + h * 4 + d + 0.5);
      }
  expect(c.bytes).toBe(2 * 2 * 3 * c.capacity * 4 * 4);
});

test('capacity never exceeds the context length', () => {
  const c = new KvCache(1, 1, 2, 10, 4);
  c.reserve(9);
  expect(c.capacity).toBe(10);
  expect(() => c.reserve(11)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
});
