/** Linear: dense or sparse weight through matmul, bias, weight swapping. */
import { cpuBackend } from '../../lib/backend/select';
import { toCsr } from '../../lib/formats/csr';
import { Linear } from '../../lib/nn/linear';
import { Tensor } from '../../lib/tensor';
import { relError, rng } from '../helpers';

function reference(x: Tensor, w: Tensor, b: Float32Array | null): Float32Array {
  const [M, K] = x.shape as [number, number];
  const N = w.shape[0]!;
  const xd = x.toFloat32();
  const wd = w.toFloat32();
  const y = new Float32Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = b ? b[n]! : 0;
      for (let k = 0; k < K; k++) s += xd[m * K + k]! * wd[n * K + k]!;
      y[m * N + n] = s;
    }
  return y;
}

const backends = cpuBackend() ? (['js', 'cpu'] as const) : (['js'] as const);

test.each(backends)('dense weight with bias, sync and async (%s)', async (backend) => {
  const x = Tensor.random([5, 33], 1);
  const w = Tensor.random([17, 33], 2);
  const r = rng(4);
  const b = Float32Array.from({ length: 17 }, () => r() - 0.5);
  const lin = new Linear(w, b);
  const ref = reference(x, w, b);
  expect(relError(lin.forward(x, { backend }).data as Float32Array, ref)).toBeLessThan(1e-5);
  expect(relError((await lin.forwardAsync(x, { backend })).data as Float32Array, ref)).toBeLessThan(1e-5);
});

test.each(backends)('a pruned sparse (CSR) weight swapped in gives the pruned result (%s)', async (backend) => {
  const x = Tensor.random([3, 40], 5);
  const dense = Tensor.random([21, 40], 6);
  const pruned = new Float32Array(dense.data as Float32Array);
  for (let i = 0; i < pruned.length; i++) if (Math.abs(pruned[i]!) < 0.6) pruned[i] = 0; // ~60% zeros
  const pw = new Tensor(pruned, [21, 40]);
  const lin = new Linear(dense);
  lin.setWeight(toCsr(pw));
  expect(relError((await lin.forwardAsync(x, { backend })).data as Float32Array, reference(x, pw, null))).toBeLessThan(1e-5);
});

test('setWeight refuses a different shape; bias must match outputs', () => {
  const lin = new Linear(Tensor.random([4, 6], 1));
  expect(() => lin.setWeight(Tensor.random([6, 4], 1))).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
  expect(() => new Linear(Tensor.random([4, 6], 1), new Float32Array(3))).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
  expect(() => new Linear(Tensor.random([24], 1))).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
});

test('bf16 weight within 1e-2', () => {
  const x = Tensor.random([4, 19], 8);
  const w = Tensor.random([9, 19], 9);
  const lin = new Linear(w.to('bf16'));
  expect(relError(lin.forward(x).data as Float32Array, reference(x, w, null))).toBeLessThan(1e-2);
});

test('observeInput sees every forward input until stopped; a throwing observer stops the pass', async () => {
  const lin = new Linear(Tensor.random([4, 6], 7));
  const seen: number[][] = [];
  const stop = lin.observeInput((x) => seen.push(x.shape.slice()));
  lin.forward(Tensor.random([2, 6], 8));
  await lin.forwardAsync(Tensor.random([3, 6], 9));
  stop();
  lin.forward(Tensor.random([5, 6], 10));
  expect(seen).toEqual([[2, 6], [3, 6]]);

  const stopBad = lin.observeInput(() => {
    throw new Error('enough');
  });
  expect(() => lin.forward(Tensor.random([1, 6], 11))).toThrow('enough');
  await expect(lin.forwardAsync(Tensor.random([1, 6], 12))).rejects.toThrow('enough');
  stopBad();
  expect(lin.forward(Tensor.random([1, 6], 13)).shape).toEqual([1, 4]);
});
