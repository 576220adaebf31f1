/**
 * Kernel-level behaviour beyond parity: block-sparse plans keep what the pattern says and a dense
 * causal plan equals row-by-row decode attention; bad inputs are coded errors on every backend,
 * including direct calls into the addon.
 */
import { planBlockSparse, runBlockSparse, runBlockSparseAsync } from '../../lib/attention/block_sparse';
import { attentionDecode, attentionDecodeAsync, attentionPrefill, attentionTopK } from '../../lib/attention/ops';
import { nativeBinding } from '../../lib/backend/native';
import { backendInfo } from '../../lib/index';
import { Tensor } from '../../lib/tensor';
import { relError } from '../helpers';
import { randomKv } from './make';

const backends = backendInfo().backend !== 'js' ? (['js', 'cpu'] as const) : (['js'] as const);

describe('block-sparse prefill plans', () => {
  test('local+sink keeps sink blocks, local blocks and the diagonal, nothing else', () => {
    const plan = planBlockSparse({ T: 640, heads: 2, blockSize: 64, pattern: { kind: 'local+sink', sinkBlocks: 1, localBlocks: 2 } });
    const { indptr, kvBlocks } = plan.mask;
    const rows = Array.from({ length: 10 }, (_, qb) => Array.from(kvBlocks.subarray(indptr[qb]!, indptr[qb + 1]!)));
    expect(rows[0]).toEqual([0]);
    expect(rows[1]).toEqual([0, 1]);
    expect(rows[5]).toEqual([0, 4, 5]);
    expect(rows[9]).toEqual([0, 8, 9]);
    expect(plan.density).toBeCloseTo(27 / 55, 6); // 1 + 2 + 8·3 of the 55 causal blocks
  });

  test.each(backends)('a dense causal plan equals decode attention at every row (%s)', (backend) => {
    const heads = 4;
    const D = 16;
    const pos0 = 5;
    const T = 37;
    const kv = randomKv(2, pos0 + T, D, 'f16', 21, 'token');
    const q = Tensor.random([T * heads * D], 22).data as Float32Array;
    const plan = planBlockSparse({ T, pos0, heads, blockSize: 8, pattern: { kind: 'causal' } });
    const out = runBlockSparse(plan, { q, kv }, { backend });
    for (const i of [0, 1, 17, T - 1]) {
      const row = new Float32Array(heads * D);
      attentionDecode(
        { q: q.subarray(i * heads * D, (i + 1) * heads * D), heads, kv: { ...kv, length: pos0 + i + 1 }, selection: { kind: 'all' }, scale: 0.25, out: row },
        { backend: 'js' },
      );
      expect(relError(out.subarray(i * heads * D, (i + 1) * heads * D), row)).toBeLessThan(1e-5);
    }
  });
});

describe('edge cases and async forms', () => {
  test.each(backends)('an empty selection or an empty cache gives zeros (%s)', (backend) => {
    const kv = randomKv(2, 30, 8, 'bf16', 3);
    const q = Tensor.random([4 * 8], 4).data as Float32Array;
    const out = new Float32Array(32).fill(7);
    const selection = { kind: 'ranges' as const, offsets: Uint32Array.of(0, 0, 1), items: Uint32Array.of(3, 9) };
    attentionDecode({ q, heads: 4, kv, selection, scale: 0.3, out }, { backend });
    expect(Array.from(out.subarray(0, 16))).toEqual(new Array(16).fill(0));
    expect(out.subarray(16).some((x) => x !== 0)).toBe(true);
    out.fill(7);
    attentionDecode({ q, heads: 4, kv: { ...kv, length: 0 }, selection: { kind: 'all' }, scale: 0.3, out }, { backend });
    expect(Array.from(out)).toEqual(new Array(32).fill(0));
  });

  test.each(backends)('async forms equal the sync ones (%s)', async (backend) => {
    const kv = randomKv(2, 300, 16, 'f16', 8, 'token');
    const q = Tensor.random([8 * 16], 9).data as Float32Array;
    const selection = { kind: 'pages' as const, offsets: Uint32Array.of(0, 2, 3), items: Uint32Array.of(0, 18, 5), pageSize: 16 };
    const a = new Float32Array(128);
    const b = new Float32Array(128);
    attentionDecode({ q, heads: 8, kv, selection, scale: 0.25, out: a }, { backend });
    await attentionDecodeAsync({ q, heads: 8, kv, selection, scale: 0.25, out: b }, { backend });
    expect(Array.from(b)).toEqual(Array.from(a));
    const plan = planBlockSparse({ T: 40, pos0: 260, heads: 8, blockSize: 16, pattern: { kind: 'local+sink', sinkBlocks: 1, localBlocks: 2 } });
    const qp = Tensor.random([40 * 8 * 16], 10).data as Float32Array;
    const sync = runBlockSparse(plan, { q: qp, kv }, { backend });
    const async = await runBlockSparseAsync(plan, { q: qp, kv }, { backend });
    expect(Array.from(async)).toEqual(Array.from(sync));
  });
});

describe('bad input is a coded error', () => {
  const kv = randomKv(2, 40, 8, 'f32', 1);
  const q = new Float32Array(4 * 8).fill(0.5);
  const out = new Float32Array(4 * 8);
  const base = { q, heads: 4, kv, scale: 0.3, out };
  test.each(backends)('decode on %s', (backend) => {
    const run = (a: object) => () => attentionDecode({ ...base, selection: { kind: 'all' }, ...a } as never, { backend });
    expect(run({ heads: 3 })).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(run({ selection: { kind: 'indices', offsets: Uint32Array.of(0, 1, 2), items: Uint32Array.of(3, 40) } })).toThrow(
      expect.objectContaining({ code: 'ERR_ARG' }),
    );
    expect(run({ selection: { kind: 'ranges', offsets: Uint32Array.of(0, 1, 1), items: Uint32Array.of(5, 2) } })).toThrow(
      expect.objectContaining({ code: 'ERR_ARG' }),
    );
    expect(run({ selection: { kind: 'pages', offsets: Uint32Array.of(0, 1, 1), items: Uint32Array.of(3), pageSize: 16 } })).toThrow(
      expect.objectContaining({ code: 'ERR_ARG' }),
    );
    // The entries are checked before anything is written (by the backend: js or the native binding).
    out.fill(7);
    expect(run({ selection: { kind: 'indices', offsets: Uint32Array.of(0, 1, 2), items: Uint32Array.of(39, 40) } })).toThrow(
      expect.objectContaining({ code: 'ERR_ARG' }),
    );
    expect(out.every((x) => x === 7)).toBe(true);
    expect(run({ kv: { ...kv, length: 41 } })).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(run({ kv: { ...kv, dtype: 'f16' } })).toThrow(expect.objectContaining({ code: 'ERR_DTYPE' }));
    expect(run({ scale: NaN })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => attentionDecode({ ...base, selection: { kind: 'all' } }, { backend, typo: 1 } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_ARG' }),
    );
  });
  test.each(backends)('top-k on %s', (backend) => {
    const scores = Float32Array.of(1, 2, 3, 4, 5, 6);
    expect(() => attentionTopK({ scores, rows: 2, n: 3, k: 4, out: new Uint32Array(8) }, { backend })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => attentionTopK({ scores, rows: 3, n: 3, k: 1, out: new Uint32Array(3) }, { backend })).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => attentionTopK({ scores, rows: 2, n: 3, k: 2, out: new Uint32Array(3) }, { backend })).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    const out = new Uint32Array(4);
    attentionTopK({ scores: Float32Array.of(5, 1, 5, 9, 0, 0), rows: 2, n: 3, k: 2, out }, { backend });
    expect(Array.from(out)).toEqual([0, 2, 0, 1]);
  });

  test.each(backends)('prefill on %s', (backend) => {
    const plan = planBlockSparse({ T: 4, pos0: 36, heads: 4, blockSize: 8, pattern: { kind: 'causal' } });
    const a = { q: new Float32Array(4 * 32).fill(1), T: 4, heads: 4, kv, mask: plan.mask, pos0: 36, scale: 0.3, out: new Float32Array(128) };
    expect(() => attentionPrefill({ ...a, pos0: 37 }, { backend })).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => attentionPrefill({ ...a, mask: { ...plan.mask, kvBlocks: plan.mask.kvBlocks.map((x, i) => (i === 0 ? 9 : x)) } }, { backend })).toThrow(
      expect.objectContaining({ code: 'ERR_ARG' }),
    );
    expect(() => attentionPrefill(a, { backend })).not.toThrow();
  });
  const b = nativeBinding();
  (b ? test : test.skip)('direct addon calls with lying sizes throw instead of reading out of bounds', () => {
    const k = new Float32Array(100);
    const call = (len: number, items: Uint32Array, kind: 0 | 1 | 2 | 3 = 2) => () =>
      b!.attentionDecode(q, 4, 8, k, k, 0, 2, len, 40, 8, kind, Uint32Array.of(0, 1, items.length), items, 16, 0.3, out);
    expect(call(1000, Uint32Array.of(0, 1))).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(call(5, Uint32Array.of(0, 7))).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(call(5, Uint32Array.of(0), 1)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => b!.attentionTopK(new Float32Array(6), 2, 3, 4, new Uint32Array(100))).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => b!.attentionTopK(new Float32Array(5), 2, 3, 1, new Uint32Array(2))).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => b!.attentionDecode(q, 4, 8, k, k, 0, 2, 5, 40, 8, 2, Uint32Array.of(0, 5, 2), Uint32Array.of(1, 1), 16, 0.3, out)).toThrow(
      expect.objectContaining({ code: 'ERR_ARG' }),
    );
  });
});
