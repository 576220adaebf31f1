/**
 * The decode-long suite end to end at tiny size: every variant is timed on the synthetic cache
 * and the sparse rows carry a ratio against the best dense row. The numbers mean nothing here.
 */
import { decodeLongSuite } from '../bench/decode_long';
import { nativeBinding } from '../lib/backend/native';
import { KvCache } from '../lib/generate/kv_cache';

test('KvCache.fillSynthetic: non-zero deterministic rows, refuses bad lengths', () => {
  const a = new KvCache(2, 2, 4, 64, 4);
  const b = new KvCache(2, 2, 4, 64, 4);
  a.fillSynthetic(37, 5);
  b.fillSynthetic(37, 5);
  expect(a.length).toBe(37);
  for (let l = 0; l < 2; l++)
    for (let h = 0; h < 2; h++)
      for (let i = 0; i < 37 * 4; i++) {
        const o = a.offset(h, 0) + i;
        expect(a.keys[l]![o]).not.toBe(0);
        expect(a.values[l]![o]).not.toBe(0);
        expect(Math.abs(a.keys[l]![o]!)).toBeLessThan(1);
        expect(a.keys[l]![o]).toBe(b.keys[l]![o]);
      }
  expect(a.keys[0]![0]).not.toBe(a.keys[1]![0]);
  expect(() => a.fillSynthetic(65)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  expect(() => a.fillSynthetic(-1)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
});

(nativeBinding() ? test : test.skip)('decode-long tiny run: every variant timed, sparse rows have ratios', async () => {
  const { rows, summary } = await decodeLongSuite.run({ quick: true, tiny: true, threads: 1, log: () => {} });
  expect(rows.map((r) => r.backend)).toEqual(['dense (default path)', 'dense (full policy)', 'quest 1/16', 'doubleSparsity 1/16', 'streaming 1/16']);
  for (const r of rows) {
    expect(r.medianMs).toBeGreaterThan(0);
    expect(r.ratioVsBestDense).toBeGreaterThan(0);
    expect(r.note).toMatch(/tokens\/s/);
  }
  expect(summary.join('\n')).toMatch(/synthetic/);
});
