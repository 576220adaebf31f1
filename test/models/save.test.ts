/**
 * saveModel → loadModel round trips: dense and sparse (CSR, N:M, BSR) weights come back in
 * the same format with every array equal, and the model computes the same logits and greedy
 * text. Corrupted sparse entries are refused with ERR_MODEL_FILE naming the weight.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BsrMatrix } from '../../lib/formats/bsr';
import { CsrMatrix } from '../../lib/formats/csr';
import { NmMatrix } from '../../lib/formats/nm';
import { isSparseMatrix, type SparseMatrix } from '../../lib/formats/types';
import { BpeTokenizer } from '../../lib/generate/bpe_tokenizer';
import { ByteTokenizer } from '../../lib/generate/byte_tokenizer';
import { convertLlama2cToSafetensors } from '../../lib/models/convert';
import { Gpt2Network, type Gpt2Layer } from '../../lib/models/gpt2';
import { LlamaNetwork } from '../../lib/models/llama';
import { loadModel } from '../../lib/models/load';
import { Model } from '../../lib/models/model';
import { ropeHalfOrder, permuteRows } from '../../lib/models/permute_rows';
import { SafetensorsFile, writeSafetensors, type RawArray } from '../../lib/models/safetensors';
import { saveModel } from '../../lib/models/save';
import { syntheticModel } from '../../lib/models/synthetic';
import { byteTokenizerJson } from '../../lib/models/tokenizer_json';
import { Linear, type LinearWeight } from '../../lib/nn/linear';
import { pruneModel } from '../../lib/prune/prune_model';
import { Tensor } from '../../lib/tensor';
import { rng } from '../helpers';
import { describeWithStories, OPENING, STORIES_BIN, STORIES_TOK } from './stories';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sparsenn-save-'));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Every array a weight is made of, by name (so two weights can be compared array by array). */
function arraysOf(w: LinearWeight): Record<string, ArrayLike<number>> {
  if (w instanceof Tensor) return { data: w.data };
  if (w instanceof CsrMatrix) return { rowPtr: w.rowPtr, colIdx: w.colIdx, values: w.values };
  if (w instanceof NmMatrix) return { values: w.values, meta: w.meta };
  if (w instanceof BsrMatrix) return { blockRowPtr: w.blockRowPtr, blockCol: w.blockCol, values: w.values };
  throw new Error('unexpected weight');
}

function describeWeight(w: LinearWeight): object {
  const base = { ctor: w.constructor.name, shape: [...w.shape] };
  if (w instanceof Tensor) return { ...base, dtype: w.dtype };
  const s = w as SparseMatrix;
  const extra = w instanceof NmMatrix ? { n: w.n, m: w.m } : w instanceof BsrMatrix ? { block: [...w.block] } : {};
  return { ...base, dtype: s.dtype, ...extra };
}

/** Same class, dtype, format parameters, and every array bit-identical (same typed-array kind too). */
function expectSameWeight(got: LinearWeight, want: LinearWeight, name: string): void {
  expect({ name, ...describeWeight(got) }).toEqual({ name, ...describeWeight(want) });
  const a = arraysOf(got);
  const b = arraysOf(want);
  for (const k of Object.keys(b)) {
    expect([name, k, a[k]!.constructor.name]).toEqual([name, k, b[k]!.constructor.name]);
    // Compare the raw bytes: bit-identical, NaN payloads and -0 included.
    const bytes = (x: ArrayLike<number>) => Buffer.from((x as Uint8Array).buffer, (x as Uint8Array).byteOffset, (x as Uint8Array).byteLength);
    expect(bytes(a[k]!).equals(bytes(b[k]!))).toBe(true);
  }
}

function expectSameLinears(got: Model, want: Model, order?: (name: string) => Int32Array | null): void {
  const g = got.linears();
  const w = want.linears();
  expect([...g.keys()]).toEqual([...w.keys()]);
  for (const [name, lin] of w) {
    const perm = order?.(name) ?? null;
    expectSameWeight(g.get(name)!.weight, perm ? permuteRows(lin.weight, perm) : lin.weight, name);
  }
}

async function greedy(m: Model, prompt: string, n = 24): Promise<string> {
  return m.complete(prompt, { maxTokens: n, temperature: 0 });
}

async function expectSameOutputs(got: Model, want: Model, ids: number[], exact: boolean): Promise<void> {
  const a = (await got.logits(ids)).data as Float32Array;
  const b = (await want.logits(ids)).data as Float32Array;
  if (exact) expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
  else {
    let num = 0;
    let den = 0;
    for (let i = 0; i < a.length; i++) {
      num += (a[i]! - b[i]!) ** 2;
      den += b[i]! ** 2;
    }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-5);
  }
  expect(await greedy(got, 'Once upon')).toBe(await greedy(want, 'Once upon'));
}

/** A random mask keeping about `keep` of the entries (never exact zeros elsewhere: the values are random). */
function masked(t: Tensor, keep: number, seed: number): Tensor {
  const r = rng(seed);
  const d = t.toFloat32().slice();
  for (let i = 0; i < d.length; i++) if (r() > keep) d[i] = 0;
  return new Tensor(d, t.shape).to(t.dtype);
}

/** Every other input of each group of 4 kept: a valid 2:4 weight. */
function twoFour(t: Tensor): Tensor {
  const d = t.toFloat32().slice();
  const k = t.shape[1]!;
  for (let i = 0; i < d.length; i++) if ((i % k) % 4 >= 2) d[i] = 0;
  return new Tensor(d, t.shape).to(t.dtype);
}

describe('saveModel / loadModel round trip: synthetic Llama', () => {
  test.each(['f32', 'bf16'] as const)('dense %s: same tensors, same logits, same greedy text', async (dtype) => {
    const m = syntheticModel({ dim: 32, layers: 2, heads: 4, kvHeads: 2, hiddenDim: 48, maxSeqLen: 64, dtype, seed: 3 });
    const dir = tempDir();
    await saveModel(m, dir);
    const back = await loadModel(dir);
    expect(back.config).toMatchObject({ ...m.config, source: 'safetensors' });
    expectSameLinears(back, m);
    const net = back.network as LlamaNetwork;
    expectSameWeight(net.weights.embedding, (m.network as LlamaNetwork).weights.embedding, 'embedding');
    expect(back.tokenizer.encode('héllo\n')).toEqual(m.tokenizer.encode('héllo\n'));
    expect(back.tokenizer.decode(m.tokenizer.encode('héllo wörld'))).toBe('héllo wörld');
    await expectSameOutputs(back, m, m.tokenizer.encode('The cat sat.'), true);
  });

  test('CSR, N:M and BSR weights (f32, bf16, f16 values; several block shapes) come back bit-identical', async () => {
    const m = syntheticModel({ dim: 48, layers: 2, heads: 4, hiddenDim: 44, maxSeqLen: 64, seed: 5 });
    const net = m.network as LlamaNetwork;
    const set = (l: Linear, w: LinearWeight) => l.setWeight(w);
    const dense = (l: Linear) => l.weight as Tensor;
    const L0 = net.weights.layers[0]!;
    const L1 = net.weights.layers[1]!;
    set(L0.wq, BsrMatrix.fromDense(masked(dense(L0.wq), 0.3, 1), { block: [4, 4] }));
    set(L0.wk, BsrMatrix.fromDense(masked(dense(L0.wk), 0.2, 2), { block: [1, 16], dtype: 'bf16' }));
    set(L0.wv, BsrMatrix.fromDense(masked(dense(L0.wv), 0.2, 3), { block: [5, 3], dtype: 'f16' })); // blocks overhang both edges
    set(L0.wo, CsrMatrix.fromDense(masked(dense(L0.wo), 0.4, 4)));
    set(L0.w1, CsrMatrix.fromDense(masked(dense(L0.w1), 0.5, 5), { dtype: 'bf16' }));
    set(L0.w2, NmMatrix.fromDense(twoFour(dense(L0.w2))));
    set(L0.w3, NmMatrix.fromDense(twoFour(dense(L0.w3)), { dtype: 'f16' }));
    set(L1.w2, NmMatrix.fromDense(masked(twoFour(dense(L1.w2)), 0.9, 6), { n: 4, m: 8, dtype: 'bf16' })); // K = 44: partial last group
    set(L1.wq, BsrMatrix.fromDense(masked(dense(L1.wq), 0.5, 7), { block: [16, 1] }));
    const dir = tempDir();
    await saveModel(m, dir);
    const back = await loadModel(dir);
    expectSameLinears(back, m);
    for (const [name, lin] of back.linears()) expect([name, isSparseMatrix(lin.weight)]).toEqual([name, isSparseMatrix(m.linears().get(name)!.weight)]);
    await expectSameOutputs(back, m, m.tokenizer.encode('sparse weights'), true);
    // loadModel's dtype option casts sparse values too.
    const half = await loadModel(dir, { dtype: 'bf16' });
    const w = half.linears().get('model.layers.0.self_attn.o_proj')!.weight as CsrMatrix;
    expect(w).toBeInstanceOf(CsrMatrix);
    expect(w.dtype).toBe('bf16');
    expect(w.colIdx).toEqual((L0.wo.weight as CsrMatrix).colIdx);
  });

  test('a pruned, untied head is written as lm_head and loaded untied', async () => {
    const m = syntheticModel({ dim: 32, layers: 1, heads: 2, hiddenDim: 32, maxSeqLen: 32, seed: 9 });
    const head = m.linears().get('lm_head')!;
    head.setWeight(CsrMatrix.fromDense(masked(head.weight as Tensor, 0.5, 11)));
    const dir = tempDir();
    await saveModel(m, dir);
    const back = await loadModel(dir);
    expect(back.config.tiedEmbeddings).toBe(false);
    expectSameLinears(back, m);
    await expectSameOutputs(back, m, [1, 50, 60, 70], true);
  });
});

describe('saveModel / loadModel round trip: GPT-2', () => {
  test('dense Conv1D weights transposed back, a sparse one kept as [out, in]', async () => {
    const D = 16;
    const V = 259;
    const r = rng(21);
    const vec = (n: number, base = 0) => Float32Array.from({ length: n }, () => base + (r() - 0.5) * 0.2);
    const lin = (n: number, k: number, seed: number) => new Linear(Tensor.random([n, k], seed, 1 / Math.sqrt(k)), vec(n));
    const layers: Gpt2Layer[] = [0, 1].map((l) => ({
      ln1: { weight: vec(D, 1), bias: vec(D) },
      attn: lin(3 * D, D, 10 * l + 1),
      proj: lin(D, D, 10 * l + 2),
      ln2: { weight: vec(D, 1), bias: vec(D) },
      fc: lin(24, D, 10 * l + 3),
      fcProj: lin(D, 24, 10 * l + 4),
    }));
    const wte = Tensor.random([V, D], 30, 0.5);
    const config = {
      architecture: 'gpt2' as const, source: 'synthetic' as const, dim: D, hiddenDim: 24, layers: 2, heads: 2, kvHeads: 2, headDim: 8,
      vocabSize: V, maxSeqLen: 32, normEps: 1e-5, ropeTheta: 0, ropeLayout: 'none' as const, tiedEmbeddings: true, bosId: 1, eosId: 2, weightDType: 'f32' as const,
    };
    const net = new Gpt2Network(config, { wte, wpe: Tensor.random([32, D], 31, 0.1), layers, lnF: { weight: vec(D, 1), bias: vec(D) }, head: new Linear(wte) });
    const tok = BpeTokenizer.fromJson(byteTokenizerJson(new ByteTokenizer()), { bosId: 1, eosId: 2, file: 'test' });
    const m = new Model(net, tok);
    layers[1]!.fc.setWeight(CsrMatrix.fromDense(masked(layers[1]!.fc.weight as Tensor, 0.5, 40)));
    const dir = tempDir();
    await saveModel(m, dir);
    const back = await loadModel(dir);
    expect(back.config).toMatchObject({ architecture: 'gpt2', dim: D, layers: 2, vocabSize: V });
    expectSameLinears(back, m);
    await expectSameOutputs(back, m, tok.encode('hello there'), true);
  });
});

describeWithStories('saveModel / loadModel round trip: stories260K', () => {
  const fromLlama2c = () => loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
  // llama2.c rotates interleaved pairs; the saved HF folder has q/k rows in half-split order.
  const ropeOrder = (m: Model) => (name: string) =>
    name.endsWith('q_proj') ? ropeHalfOrder(m.config.heads, m.config.headDim) : name.endsWith('k_proj') ? ropeHalfOrder(m.config.kvHeads, m.config.headDim) : null;

  test.each([
    ['2:4 → N:M', { pattern: '2:4' }, NmMatrix],
    ['50% unstructured → CSR', { sparsity: 0.5 }, CsrMatrix],
  ] as const)('pruned %s from the llama2.c file: same formats, same arrays (q/k rows reordered), same text', async (_label, opts, Format) => {
    const m = await fromLlama2c();
    await pruneModel(m, { method: 'magnitude', ...opts, storage: 'sparse' });
    const dir = tempDir();
    await saveModel(m, dir);
    const back = await loadModel(dir);
    for (const [name, lin] of back.linears()) if (name !== 'lm_head') expect([name, lin.weight]).toEqual([name, expect.any(Format)]);
    expectSameLinears(back, m, ropeOrder(m));
    // q·k sums run in a different order after the row reordering: equal to rounding, same greedy text.
    await expectSameOutputs(back, m, m.tokenizer.encode(OPENING), false);
  });

  test('pruned 2:4 from a Hugging Face folder (no reordering): logits bit-identical', async () => {
    const hf = tempDir();
    await convertLlama2cToSafetensors(STORIES_BIN, STORIES_TOK, hf);
    const m = await loadModel(hf);
    await pruneModel(m, { method: 'magnitude', pattern: '2:4', storage: 'sparse' });
    const dir = tempDir();
    await saveModel(m, dir);
    const back = await loadModel(dir);
    expectSameLinears(back, m);
    expect(readFileSync(join(dir, 'tokenizer.json'), 'utf8')).toBe(readFileSync(join(hf, 'tokenizer.json'), 'utf8'));
    await expectSameOutputs(back, m, m.tokenizer.encode(OPENING), true);
  });

  test('dense round trip from the llama2.c file', async () => {
    const m = await fromLlama2c();
    const dir = tempDir();
    await saveModel(m, dir);
    const back = await loadModel(dir);
    expectSameLinears(back, m, ropeOrder(m));
    await expectSameOutputs(back, m, m.tokenizer.encode(OPENING), false);
  });
});

describe('saveModel bad input', () => {
  test('not a model, no folder, unknown options, a disposed model, a path that is a file: coded errors', async () => {
    const m = syntheticModel({ dim: 16, layers: 1, heads: 2, hiddenDim: 16, maxSeqLen: 16 });
    const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: { code?: string }) => e.code);
    expect(await code(saveModel({} as Model, tempDir()))).toBe('ERR_ARG');
    expect(await code(saveModel(m, ''))).toBe('ERR_ARG');
    expect(await code(saveModel(m, tempDir(), { shards: 2 } as object))).toBe('ERR_ARG');
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'x');
    expect(await code(saveModel(m, join(file, 'sub')))).toBe('ERR_MODEL_FILE');
    m.dispose();
    expect(await code(saveModel(m, tempDir()))).toBe('ERR_ARG');
  });
});

describe('corrupted sparse entries are refused with ERR_MODEL_FILE naming the weight', () => {
  const W = 'model.layers.0.self_attn.o_proj.weight';
  let dir: string;
  let tensors: Record<string, RawArray>;
  let metadata: Record<string, string>;

  beforeAll(async () => {
    const m = syntheticModel({ dim: 32, layers: 1, heads: 2, hiddenDim: 32, maxSeqLen: 32, seed: 4 });
    const net = m.network as LlamaNetwork;
    const L0 = net.weights.layers[0]!;
    L0.wo.setWeight(CsrMatrix.fromDense(masked(L0.wo.weight as Tensor, 0.5, 1)));
    L0.w1.setWeight(NmMatrix.fromDense(twoFour(L0.w1.weight as Tensor)));
    L0.w3.setWeight(BsrMatrix.fromDense(masked(L0.w3.weight as Tensor, 0.3, 2), { block: [2, 8] }));
    dir = tempDir();
    await saveModel(m, dir);
    const f = await SafetensorsFile.open(join(dir, 'model.safetensors'));
    tensors = {};
    for (const name of f.entries.keys()) tensors[name] = await f.readRaw(name);
    metadata = Object.fromEntries(f.metadata);
    await f.close();
  });

  /** Rewrites the folder's weights with one change and expects the load to fail naming `weight`. */
  async function expectRefused(change: (t: Record<string, RawArray>, meta: Record<string, string>) => void, weight = W, problem?: RegExp) {
    const t = Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, { ...v, shape: [...v.shape], data: v.data.slice() }]));
    const meta = { ...metadata };
    change(t, meta);
    await writeSafetensors(join(dir, 'model.safetensors'), t, meta);
    const e = await loadModel(dir).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toMatchObject({ code: 'ERR_MODEL_FILE' });
    expect((e as Error).message).toContain(weight);
    if (problem) expect((e as Error).message).toMatch(problem);
  }

  const spec = (meta: Record<string, string>, w = W) => JSON.parse(meta['sparsenn.sparse.' + w]!) as Record<string, unknown>;
  const setSpec = (meta: Record<string, string>, v: unknown, w = W) => (meta['sparsenn.sparse.' + w] = typeof v === 'string' ? v : JSON.stringify(v));
  const NM = 'model.layers.0.mlp.gate_proj.weight';
  const BSR = 'model.layers.0.mlp.up_proj.weight';

  test('the unmodified folder loads', async () => {
    await writeSafetensors(join(dir, 'model.safetensors'), tensors, metadata);
    await expect(loadModel(dir)).resolves.toBeInstanceOf(Model);
  });
  test('description: bad JSON, wrong shape, unknown format, bad dtype', async () => {
    await expectRefused((_, m) => setSpec(m, '{not json'), W, /not valid JSON/);
    await expectRefused((_, m) => setSpec(m, { ...spec(m), shape: [32, 31] }), W, /shape/);
    await expectRefused((_, m) => setSpec(m, { ...spec(m), format: 'coo' }), W, /coo/);
    await expectRefused((_, m) => setSpec(m, { ...spec(m), dtype: 'f64' }), W, /dtype/);
    await expectRefused((_, m) => setSpec(m, { ...spec(m, NM), n: 5 }, NM), NM);
    await expectRefused((_, m) => setSpec(m, { ...spec(m, NM), m: 6 }, NM), NM);
    await expectRefused((_, m) => setSpec(m, { ...spec(m, BSR), block: [1e6, 1e6] }, BSR), BSR, /block/);
  });
  test('components: missing, wrong dtype, wrong length, absurd count', async () => {
    await expectRefused((t) => delete t[`${W}.csr.col_idx`], W, /missing/);
    await expectRefused((t) => (t[`${W}.csr.row_ptr`]!.dtype = 'F32'), W, /dtype/);
    await expectRefused((t) => {
      const a = t[`${W}.csr.row_ptr`]!;
      t[`${W}.csr.row_ptr`] = { ...a, shape: [a.shape[0]! - 1], data: a.data.slice(0, -1) };
    }, W, /shape/);
    await expectRefused((t) => {
      const v = t[`${W}.csr.values`]!;
      t[`${W}.csr.values`] = { ...v, shape: [v.shape[0]! + 1], data: Float32Array.from([...v.data, 1]) };
    }, W);
    await expectRefused((t) => (t[`${NM}.nm.meta`]!.shape = [t[`${NM}.nm.meta`]!.data.length]), NM, /shape/);
    await expectRefused((t) => delete t[`${BSR}.bsr.values`], BSR, /missing/);
  });
  test('contents: out-of-range and unsorted indices, bad pointers, duplicate N:M positions', async () => {
    await expectRefused((t) => ((t[`${W}.csr.col_idx`]!.data as Uint16Array)[0] = 40), W, /index 40/);
    await expectRefused((t) => {
      const c = t[`${W}.csr.col_idx`]!.data as Uint16Array;
      [c[0], c[1]] = [c[1]!, c[0]!];
    }, W, /increasing/);
    await expectRefused((t) => ((t[`${W}.csr.row_ptr`]!.data as Uint32Array)[3] = 1e6), W);
    await expectRefused((t) => ((t[`${NM}.nm.meta`]!.data as Uint32Array)[0] = 0), NM, /twice/);
    await expectRefused((t) => ((t[`${BSR}.bsr.block_col`]!.data as Uint16Array)[0] = 9), BSR);
  });
  test('an unknown layout version', async () => {
    await expectRefused((_, m) => (m['sparsenn.version'] = '2'), W, /layout version "2"/);
  });
  test('a weight stored both dense and sparse', async () => {
    await expectRefused((t) => (t[W] = { dtype: 'F32', shape: [32, 32], data: new Float32Array(32 * 32) }), W, /both/);
  });
});
