import { backendInfo, matmul, matmulAsync, SparsennError, Tensor } from '../lib/index';
import { relError } from './helpers';

const backends: ('js' | 'cpu')[] = ['js', ...(backendInfo().backend !== 'js' ? (['cpu'] as const) : [])];

describe.each(backends)('matmul on %s', (backend) => {
  test('computes X · Wᵀ on a hand-checked case', () => {
    const x = new Tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const w = new Tensor([1, 0, -1, 0.5, 0.5, 0.5, 2, 1, 0, 0, 0, 1], [4, 3]);
    const y = matmul(x, w, { backend });
    expect(y.shape).toEqual([2, 4]);
    expect(Array.from(y.data)).toEqual([-2, 3, 4, 3, -2, 7.5, 13, 6]);
  });

  test('async form gives the same answer and returns a Promise', async () => {
    const x = Tensor.random([5, 33], 1);
    const w = Tensor.random([17, 33], 2);
    const p = matmulAsync(x, w, { backend });
    expect(p).toBeInstanceOf(Promise);
    const ya = await p;
    const ys = matmul(x, w, { backend });
    expect(relError(ya.data as Float32Array, ys.data as Float32Array)).toBeLessThan(1e-6);
  });

  test('bf16 and f16 weights', () => {
    const x = Tensor.random([3, 40], 5);
    const w = Tensor.random([9, 40], 6);
    const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
    for (const dt of ['bf16', 'f16'] as const) {
      const y = matmul(x, w.to(dt), { backend }).data as Float32Array;
      expect(relError(y, ref)).toBeLessThan(1e-2);
      expect(relError(y, ref)).toBeGreaterThan(0); // really used the narrowed weights
    }
  });

  test('empty sizes give empty results', () => {
    expect(matmul(new Tensor(new Float32Array(0), [0, 4]), Tensor.random([3, 4], 1), { backend }).shape).toEqual([0, 3]);
    const y = matmul(Tensor.random([2, 0 + 1], 1), new Tensor(new Float32Array(0), [0, 1]), { backend });
    expect(y.shape).toEqual([2, 0]);
  });

  test('bad input throws coded errors', async () => {
    const x = Tensor.random([2, 3], 1);
    expect(() => matmul(x, Tensor.random([4, 5], 2), { backend })).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => matmul(Tensor.random([6], 1), Tensor.random([4, 6], 2), { backend })).toThrow(
      expect.objectContaining({ code: 'ERR_SHAPE' }),
    );
    expect(() => matmul(x.to('bf16'), Tensor.random([4, 3], 2), { backend })).toThrow(
      expect.objectContaining({ code: 'ERR_DTYPE' }),
    );
    expect(() => matmul(x, x, { backend, bogus: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => matmul(x, {} as Tensor, { backend })).toThrow(SparsennError);
    await expect(matmulAsync(x, Tensor.random([4, 5], 2), { backend })).rejects.toMatchObject({ code: 'ERR_SHAPE' });
  });

  test('a buffer detached after construction is rejected, not read', () => {
    const x = Tensor.random([2, 3], 1);
    const w = Tensor.random([4, 3], 2);
    structuredClone(w.data.buffer, { transfer: [w.data.buffer as ArrayBuffer] });
    expect(() => matmul(x, w, { backend })).toThrow(expect.objectContaining({ code: 'ERR_DETACHED' }));
  });
});

test('unknown backend name is rejected', () => {
  const x = Tensor.random([2, 3], 1);
  expect(() => matmul(x, x, { backend: 'tpu' as never })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
});

test('cuda requested without CUDA gives ERR_BACKEND', () => {
  if (backendInfo().cuda.available) return;
  const x = Tensor.random([2, 3], 1);
  expect(() => matmul(x, x, { backend: 'cuda' })).toThrow(expect.objectContaining({ code: 'ERR_BACKEND' }));
});

test('backendInfo reports a coherent picture', () => {
  const info = backendInfo();
  expect(['cuda', 'cpu', 'js']).toContain(info.backend);
  expect(['avx512', 'avx2', 'neon', 'scalar', 'none']).toContain(info.simd);
  expect(info.threads).toBeGreaterThanOrEqual(1);
  expect(typeof info.cuda.available).toBe('boolean');
  if (!info.cuda.available) expect(info.cuda.reason).toEqual(expect.any(String));
});

test('the loaded addon exports every function the typed binding declares (else it would be refused at load)', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { nativeBinding } = require('../lib/backend/native') as typeof import('../lib/backend/native');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { NATIVE_FUNCTIONS } = require('../lib/backend/binding') as typeof import('../lib/backend/binding');
  const b = nativeBinding();
  if (!b) return; // js-only environment: nothing to check
  expect(NATIVE_FUNCTIONS.filter((f) => typeof b[f] !== 'function')).toEqual([]);
  expect(new Set(NATIVE_FUNCTIONS).size).toBe(NATIVE_FUNCTIONS.length);
});
