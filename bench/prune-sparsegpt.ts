/**
 * How long SparseGPT takes on one layer: the f64 Cholesky-inverse factor and the
 * f32 OBS sweep, timed separately (median of --runs after one warm-up), with the
 * achieved GFLOP/s. Usage: node dist/bench/prune-sparsegpt.js [K=1024] [N=K] [tokens=256] [runs=3] [backend=cpu]
 */
import { selectBackend } from '../lib/backend/select';
import type { BackendName } from '../lib/backend/types';
import { backendInfo } from '../lib/info';
import { matmul } from '../lib/ops/matmul';
import { Tensor } from '../lib/tensor';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function main(): void {
  const [K = 1024, N = K, tokens = 256, runs = 3] = process.argv.slice(2, 6).map(Number);
  const backendName = (process.argv[6] ?? 'cpu') as BackendName;
  const backend = selectBackend(backendName);
  // Correlated calibration inputs: a shared component plus noise, as real activations are.
  const x = Tensor.random([tokens, K], 3);
  const xs = x.data as Float32Array;
  for (let t = 0; t < tokens; t++) for (let j = 0; j < K; j++) xs[t * K + j]! += 0.5 * xs[t * K + ((j * 7) % K)]!;
  const xt = new Float32Array(K * tokens);
  for (let t = 0; t < tokens; t++) for (let j = 0; j < K; j++) xt[j * tokens + t] = xs[t * K + j]!;
  const xtT = new Tensor(xt, [K, tokens]);
  const h = Float64Array.from(matmul(xtT, xtT).data as Float32Array);
  let mean = 0;
  for (let j = 0; j < K; j++) mean += h[j * K + j]! / K;
  for (let j = 0; j < K; j++) h[j * K + j]! += 0.01 * mean;
  const w = Tensor.random([N, K], 5).data as Float32Array;
  const u = new Float64Array(K * K);
  const cholMs = cholTimes(backend, h, K, u, runs);
  const uf = Float32Array.from(u);
  const blocks = Math.ceil(K / 128);
  const counts = new Uint32Array(blocks);
  for (let b = 0; b < blocks; b++) counts[b] = Math.round(0.5 * N * Math.min(128, K - b * 128));
  const sweepMs: number[] = [];
  for (let r = 0; r <= runs; r++) {
    const wc = Float32Array.from(w);
    const mask = new Uint8Array(N * K);
    const t0 = performance.now();
    backend.sparsegptSweep(wc, N, K, uf, mask, { n: 0, m: 0, blockSize: 128, pruneCounts: counts });
    if (r > 0) sweepMs.push(performance.now() - t0);
  }
  const info = backendInfo();
  console.log(JSON.stringify({ K, N, tokens, runs, backend: backendName, simd: info.simd, threads: info.threads }));
  const cm = median(cholMs);
  const sm = median(sweepMs);
  console.log(`cholesky+inverse factor: ${cm.toFixed(1)} ms  (${((2 / 3) * K ** 3 / cm / 1e6).toFixed(2)} GFLOP/s f64)`);
  console.log(`OBS sweep (50% unstructured, block 128): ${sm.toFixed(1)} ms  (~${((0.5 * N * K * K) / sm / 1e6).toFixed(2)} GFLOP/s f32, lazy updates)`);
  console.log(`total: ${(cm + sm).toFixed(1)} ms`);
}

function cholTimes(backend: ReturnType<typeof selectBackend>, h: Float64Array, K: number, u: Float64Array, runs: number): number[] {
  const out: number[] = [];
  if (backend.choleskyInverseUpper(h, K, u) !== 0) throw new Error('H is not positive definite');
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    backend.choleskyInverseUpper(h, K, u);
    out.push(performance.now() - t0);
  }
  return out;
}

main();
