/** Sparse activations: the prepared form, the inputSparse option ('auto' rules), errors, never a crash. */
import { nativeBinding } from '../lib/backend/native';
import { AUTO_MAX_ROWS, zeroFraction } from '../lib/ops/input_sparse';
import { backendInfo, InputSparseWeight, matmul, matmulAsync, prepareInputSparse, Tensor } from '../lib/index';
import { codeOf, relError } from './helpers';

const backends: ('js' | 'cpu')[] = ['js', ...(backendInfo().backend !== 'js' ? (['cpu'] as const) : [])];

describe.each(backends)('input-sparse matmul on %s', (backend) => {
  test('hand-checked: only the nonzero inputs contribute', () => {
    const w = new Tensor([1, 2, 3, 4, 5, 6], [2, 3]); // W [N=2, K=3]
    const x = new Tensor([0, 2, 0], [1, 3]);
    const p = prepareInputSparse(w);
    expect(Array.from(p.wt.data)).toEqual([1, 4, 2, 5, 3, 6]);
    expect(p.shape).toEqual([2, 3]);
    expect(Array.from(matmul(x, p, { backend }).data)).toEqual([4, 10]);
  });

  test('a dense x still gives the dense answer through the prepared form', async () => {
    const x = Tensor.random([4, 50], 1);
    const w = Tensor.random([30, 50], 2);
    const ref = matmul(x, w, { backend }).data as Float32Array;
    expect(relError(matmul(x, prepareInputSparse(w), { backend }).data as Float32Array, ref)).toBeLessThan(1e-6);
    expect(relError((await matmulAsync(x, w, { backend, inputSparse: true })).data as Float32Array, ref)).toBeLessThan(1e-6);
  });

  test('an all-zero input gives zeros', () => {
    const y = matmul(new Tensor(new Float32Array(20), [1, 20]), Tensor.random([7, 20], 3), { backend, inputSparse: true });
    expect(Array.from(y.data)).toEqual(new Array(7).fill(0));
  });
});

describe('inputSparse option', () => {
  test("'auto' and true give the same numbers as dense, and bad values are ERR_ARG", () => {
    const w = Tensor.random([40, 64], 4);
    const x = Tensor.random([1, 64], 5);
    const d = x.data as Float32Array;
    for (let k = 0; k < 64; k++) if (k % 8 !== 0) d[k] = 0; // 87.5% zeros
    const ref = matmul(x, w).data as Float32Array;
    for (const opt of [true, false, 'auto'] as const)
      expect(relError(matmul(x, w, { inputSparse: opt }).data as Float32Array, ref)).toBeLessThan(1e-6);
    expect(codeOf(() => matmul(x, w, { inputSparse: 'yes' as never }))).toBe('ERR_ARG');
    expect(codeOf(() => matmul(x, w, { inpuSparse: true } as never))).toBe('ERR_ARG');
  });

  test('zeroFraction and the auto row limit', () => {
    expect(zeroFraction(new Float32Array([0, 1, 0, 0]))).toBe(0.75);
    expect(zeroFraction(new Float32Array(0))).toBe(0);
    expect(AUTO_MAX_ROWS).toBeGreaterThanOrEqual(1);
  });

  test('shape and argument errors are coded', () => {
    const p = prepareInputSparse(Tensor.random([5, 9], 1));
    expect(p).toBeInstanceOf(InputSparseWeight);
    expect(p.bytes).toBe(5 * 9 * 4);
    expect(codeOf(() => matmul(Tensor.random([1, 8], 1), p))).toBe('ERR_SHAPE');
    expect(codeOf(() => matmul(Tensor.random([1, 8], 1), Tensor.random([5, 9], 1), { inputSparse: true }))).toBe('ERR_SHAPE');
    expect(codeOf(() => prepareInputSparse(Tensor.random([5], 1)))).toBe('ERR_SHAPE');
    expect(codeOf(() => prepareInputSparse([1, 2] as never))).toBe('ERR_ARG');
    expect(prepareInputSparse(Tensor.random([3, 4], 1).to('bf16')).dtype).toBe('bf16');
  });
});

const native = nativeBinding();
(native && backendInfo().backend !== 'js' ? test : test.skip)('native matmulInputSparse: short or mistyped buffers are coded errors', () => {
  const b = native!;
  const raw = (...a: unknown[]) => {
    try {
      (b.matmulInputSparse as (...args: unknown[]) => void)(...a);
    } catch (e) {
      return (e as { code?: string }).code;
    }
    return undefined;
  };
  const x = new Float32Array(2 * 10).fill(1);
  const wt = new Float32Array(10 * 6);
  const y = new Float32Array(2 * 6);
  expect(raw(x, 2, 10, wt, 0, 6, y)).toBeUndefined();
  expect(raw(x, 2, 10, wt.subarray(1), 0, 6, y)).toBe('ERR_SHAPE');
  expect(raw(x.subarray(1), 2, 10, wt, 0, 6, y)).toBe('ERR_SHAPE');
  expect(raw(x, 2, 10, wt, 0, 6, y.subarray(1))).toBe('ERR_SHAPE');
  expect(raw(x, 2, 10, wt, 2, 6, y)).toBe('ERR_DTYPE');
  expect(raw(x, 2, 2 ** 32, wt, 0, 6, y)).toBe('ERR_SHAPE');
  expect(raw(x, 2, 10, wt, 0, -1, y)).toBe('ERR_SHAPE');
});
