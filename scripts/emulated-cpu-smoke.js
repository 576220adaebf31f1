#!/usr/bin/env node
/**
 * A short end-to-end run of the native addon, meant to be run under an emulated CPU
 * (scripts/check-emulated-cpus.sh runs it with qemu-user as an AVX2-only and as a pre-AVX x86),
 * so the kernels a machine without AVX-512 (or without AVX) picks are executed, not just compiled:
 * an AVX-512 instruction reached on such a CPU kills the process with SIGILL.
 *
 * Checks, on the native backend against the pure-TypeScript one: every weight format (f32 and
 * bf16 values) at decode (M=1) and prefill (M=40) sizes, sparse activations, and greedy
 * generation on a small synthetic model with dense and sparse attention policies, after
 * SparseGPT pruning (its native solver) to 2:4.
 *
 * Usage: node scripts/emulated-cpu-smoke.js <expected simd: avx512|avx2|scalar>  (needs dist/).
 */
'use strict';
const path = require('node:path');
const L = require(path.join(__dirname, '..', 'dist', 'lib', 'index.js'));

const expected = process.argv[2];
const info = L.backendInfo();
let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
};
check(info.backend === 'cpu', `native backend loaded (${info.backend})`);
check(!expected || info.simd === expected, `kernel variant ${info.simd}${expected ? ` (expected ${expected})` : ''}`);

const { matmul, Tensor, toCsr, toNm, toBsr, toBitmap, prepareInputSparse } = L;
function relErr(a, b) {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}
// An awkward [37, 203] weight: half its entries zeroed so that every 4-group keeps 2 (2:4 holds).
const N = 37;
const K = 203;
const w = Tensor.random([N, K], 1);
const d = w.data;
for (let i = 0; i < d.length; i++) if (i % 4 === 1 || i % 4 === 2) d[i] = 0;
for (const M of [1, 40]) {
  const x = Tensor.random([M, K], 2 + M);
  const ref = matmul(x, w, { backend: 'js' }).data;
  for (const dtype of ['f32', 'bf16']) {
    const tol = dtype === 'f32' ? 1e-5 : 1e-2;
    const forms = [
      ['dense', dtype === 'f32' ? w : w.to('bf16')],
      ['csr', toCsr(w, { dtype })],
      ['2:4', toNm(w, { dtype })],
      ['bsr 1x4', toBsr(w, { block: [1, 4], dtype })],
      ['bitmap', toBitmap(w, { dtype })],
    ];
    for (const [name, m] of forms) check(relErr(matmul(x, m, { backend: 'cpu' }).data, ref) < tol, `matmul ${name} ${dtype} M=${M}`);
  }
}
const xs = Tensor.random([1, K], 9);
for (let i = 0; i < K; i++) if (i % 10 !== 0) xs.data[i] = 0;
check(relErr(matmul(xs, prepareInputSparse(w), { backend: 'cpu' }).data, matmul(xs, w, { backend: 'js' }).data) < 1e-5, 'sparse activations');

async function generations() {
  const model = L.syntheticModel({ dim: 64, layers: 2, heads: 4, kvHeads: 2, maxSeqLen: 96, seed: 3 });
  await L.pruneModel(model, { method: 'sparsegpt', pattern: '2:4', calibration: { text: 'Once upon a time there was a little cat. '.repeat(8) }, storage: 'sparse' });
  const run = async (backend, attention) => {
    const ids = [];
    for await (const c of model.generate('Hello', { maxTokens: 40, temperature: 0, stop: [], backend, ...(attention ? { attention } : {}) }))
      if (c.token >= 0) ids.push(c.token);
    return ids.join(',');
  };
  const dense = await run('cpu');
  check(dense === (await run('js')), 'greedy generation after SparseGPT 2:4: native tokens equal the TypeScript backend');
  for (const attention of [
    { policy: 'streaming', sinks: 4, window: 16 },
    { policy: 'quest', budget: 16, pageSize: 4 },
    { policy: 'doubleSparsity', budget: 16, labelChannels: 4 },
    { policy: 'tidal', budget: 16 },
  ]) {
    const ids = await run('cpu', attention);
    check(ids.split(',').length === 40 && ids === (await run('js', attention)), `generation with ${attention.policy} attention equals the TypeScript backend`);
  }
}
generations()
  .catch((e) => {
    console.error(e);
    failures++;
  })
  .finally(() => {
    console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
    process.exit(failures ? 1 : 0);
  });
