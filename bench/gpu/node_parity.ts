/**
 * The Node half of the GPU check (bench/gpu/check.sh runs it when Node and dist/ were carried):
 * loads the package as a user would, so the whole safe-loading path runs on a real GPU (driver
 * found, child-process self-test, addon loaded), then compares backend 'cuda' with 'js' for
 * dense, CSR, BSR and N:M weights on random awkward shapes, sync and async, and prints one line each.
 * Exit status: 0 all passed, 1 a mismatch, 2 CUDA not available (the reason is printed).
 */
import { backendInfo, matmul, matmulAsync, Tensor, toBsr, toCsr, toNm } from '../../lib/index';

type DT = 'f32' | 'bf16' | 'f16';

function relError(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Deterministic [N, K] weight with `keep` nonzeros in every group of `m` (keep = m: dense). */
function weight(N: number, K: number, keep: number, m: number, seed: number): Tensor {
  const w = Tensor.random([N, K], seed);
  const d = w.data as Float32Array;
  for (let n = 0; n < N; n++)
    for (let g = 0; g < K; g += m)
      for (let j = 0; j < m && g + j < K; j++) if ((j + n + g / m) % m >= keep) d[n * K + g + j] = 0;
  return w;
}

async function main(): Promise<number> {
  const info = backendInfo();
  console.log(`backendInfo: ${JSON.stringify(info)}`);
  if (!info.cuda.available) {
    console.log(`CUDA not available: ${info.cuda.reason ?? '?'}`);
    return 2;
  }
  const shapes: [number, number, number][] = [
    [1, 1, 1], [1, 4096, 33], [3, 70, 37], [16, 130, 257], [17, 257, 129], [70, 64, 96], [1, 515, 301], [33, 1000, 200],
  ];
  let failed = 0;
  let seed = 1;
  const check = async (what: string, x: Tensor, w: Parameters<typeof matmul>[1], tol: number) => {
    const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
    const got = matmul(x, w, { backend: 'cuda' }).data as Float32Array;
    const gotAsync = (await matmulAsync(x, w, { backend: 'cuda' })).data as Float32Array;
    const err = Math.max(relError(got, ref), relError(gotAsync, ref));
    const ok = err <= tol;
    if (!ok) failed++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${what.padEnd(40)} rel err ${err.toExponential(3)} (tol ${tol})`);
  };
  for (const [M, K, N] of shapes) {
    const x = Tensor.random([M, K], seed++);
    for (const dt of ['f32', 'bf16', 'f16'] as DT[]) {
      const tol = dt === 'f32' ? 1e-5 : 1e-2;
      const s = `M=${M} K=${K} N=${N} ${dt}`;
      await check(`dense ${s}`, x, weight(N, K, 4, 4, seed++).to(dt), tol);
      await check(`csr 1:8 ${s}`, x, toCsr(weight(N, K, 1, 8, seed++).to(dt)), tol);
      await check(`bsr 1x16 ${s}`, x, toBsr(weight(N, K, 1, 3, seed++).to(dt), { block: [1, 16] }), tol);
      await check(`bsr 8x8 ${s}`, x, toBsr(weight(N, K, 1, 3, seed++).to(dt), { block: [8, 8] }), tol);
      await check(`nm 2:4 ${s}`, x, toNm(weight(N, K, 2, 4, seed++).to(dt)), tol);
      await check(`nm 4:8 ${s}`, x, toNm(weight(N, K, 4, 8, seed++).to(dt), { n: 4, m: 8 }), tol);
    }
  }
  console.log(`node parity: ${failed === 0 ? 'all passed' : `${failed} failed`}`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
