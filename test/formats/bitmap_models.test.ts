/**
 * The bitmap format where models hold weights: saveModel / loadModel round trips (arrays
 * bit-identical, same logits; loadModel's dtype cast), corrupted bitmap entries in the
 * safetensors file refused with ERR_MODEL_FILE naming the weight, and permuteRows (used
 * when saving llama2.c models) moving bitmap rows exactly as it moves dense rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BitmapMatrix, toBitmap } from '../../lib/formats/bitmap';
import type { LlamaNetwork } from '../../lib/models/llama';
import { loadModel } from '../../lib/models/load';
import { permuteRows } from '../../lib/models/permute_rows';
import { SafetensorsFile, writeSafetensors, type RawArray } from '../../lib/models/safetensors';
import { saveModel } from '../../lib/models/save';
import { castSparse } from '../../lib/models/sparse_safetensors';
import { syntheticModel } from '../../lib/models/synthetic';
import type { Linear } from '../../lib/nn/linear';
import { Tensor } from '../../lib/tensor';
import { pruned, rng } from '../helpers';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sparsenn-bitmap-'));
  dirs.push(d);
  return d;
}

function masked(t: Tensor, keep: number, seed: number): Tensor {
  const r = rng(seed);
  const d = t.toFloat32().slice();
  for (let i = 0; i < d.length; i++) if (r() > keep) d[i] = 0;
  return new Tensor(d, t.shape).to(t.dtype);
}

const bytesOf = (a: ArrayLike<number> & ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function expectSameBitmap(got: unknown, want: BitmapMatrix, name: string): void {
  expect([name, got instanceof BitmapMatrix]).toEqual([name, true]);
  const g = got as BitmapMatrix;
  expect([name, g.shape, g.dtype]).toEqual([name, want.shape, want.dtype]);
  expect(bytesOf(g.masks).equals(bytesOf(want.masks))).toBe(true);
  expect(bytesOf(g.rowPtr).equals(bytesOf(want.rowPtr))).toBe(true);
  expect(g.values.constructor).toBe(want.values.constructor);
  expect(bytesOf(g.values).equals(bytesOf(want.values))).toBe(true);
}

/** A small synthetic Llama with bitmap weights (f32, bf16, f16 values; K = 44 leaves a partial last group). */
function bitmapModel() {
  const m = syntheticModel({ dim: 48, layers: 2, heads: 4, hiddenDim: 44, maxSeqLen: 64, seed: 5 });
  const net = m.network as LlamaNetwork;
  const L0 = net.weights.layers[0]!;
  const L1 = net.weights.layers[1]!;
  const set = (l: Linear, keep: number, seed: number, dtype?: 'bf16' | 'f16') =>
    l.setWeight(toBitmap(masked(l.weight as Tensor, keep, seed), dtype ? { dtype } : undefined));
  set(L0.wq, 0.3, 1);
  set(L0.wo, 0.5, 2, 'bf16');
  set(L0.w2, 0.2, 3, 'f16'); // [dim, hidden] = [48, 44]
  set(L1.w1, 0.1, 4);
  return { m, names: ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.o_proj', 'model.layers.0.mlp.down_proj', 'model.layers.1.mlp.gate_proj'] };
}

describe('bitmap weights in saved models', () => {
  test('saveModel / loadModel: bit-identical arrays, identical logits; the dtype option casts values', async () => {
    const { m, names } = bitmapModel();
    const dir = tempDir();
    await saveModel(m, dir);
    const back = await loadModel(dir);
    for (const name of names) expectSameBitmap(back.linears().get(name)!.weight, m.linears().get(name)!.weight as BitmapMatrix, name);
    const ids = m.tokenizer.encode('bitmap weights');
    const a = (await back.logits(ids)).data as Float32Array;
    const b = (await m.logits(ids)).data as Float32Array;
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    const half = await loadModel(dir, { dtype: 'f16' });
    const w = half.linears().get(names[0]!)!.weight as BitmapMatrix;
    expect(w).toBeInstanceOf(BitmapMatrix);
    expect(w.dtype).toBe('f16');
    expect(Array.from(w.masks)).toEqual(Array.from((m.linears().get(names[0]!)!.weight as BitmapMatrix).masks));
  });

  describe('a corrupted file is refused naming the weight', () => {
    const W = 'model.layers.0.self_attn.q_proj.weight';
    let dir = '';
    const tensors: Record<string, RawArray> = {};
    let metadata: Record<string, string> = {};
    beforeAll(async () => {
      dir = tempDir();
      await saveModel(bitmapModel().m, dir);
      const f = await SafetensorsFile.open(join(dir, 'model.safetensors'));
      for (const name of f.entries.keys()) tensors[name] = await f.readRaw(name);
      metadata = Object.fromEntries(f.metadata);
      await f.close();
    });
    async function expectRefused(change: (t: Record<string, RawArray>, meta: Record<string, string>) => void, problem?: RegExp) {
      const t = Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, { ...v, shape: [...v.shape], data: v.data.slice() }]));
      const meta = { ...metadata };
      change(t, meta);
      await writeSafetensors(join(dir, 'model.safetensors'), t, meta);
      const e = await loadModel(dir).then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toMatchObject({ code: 'ERR_MODEL_FILE' });
      expect((e as Error).message).toContain(W);
      if (problem) expect((e as Error).message).toMatch(problem);
    }
    test('the spec and components as saved', () => {
      expect(JSON.parse(metadata['sparsenn.sparse.' + W]!)).toEqual({ format: 'bitmap', shape: [48, 48], dtype: 'f32' });
      expect(tensors[`${W}.bitmap.masks`]).toMatchObject({ dtype: 'U16', shape: [48, 3] });
      expect(tensors[`${W}.bitmap.row_ptr`]).toMatchObject({ dtype: 'U32', shape: [49] });
      expect(tensors[`${W}.bitmap.values`]!.dtype).toBe('F32');
    });
    test('a mask bit flipped (popcounts no longer match the row offsets)', async () => {
      await expectRefused((t) => {
        const masks = t[`${W}.bitmap.masks`]!.data as Uint16Array;
        masks[5] = masks[5]! ^ 1;
      }, /row \d+'s masks keep/);
    });
    test('row offsets out of order, a component missing or of the wrong shape, dtype or length', async () => {
      await expectRefused((t) => ((t[`${W}.bitmap.row_ptr`]!.data as Uint32Array)[3] = 1e6));
      await expectRefused((t) => delete t[`${W}.bitmap.masks`], /missing/);
      await expectRefused((t) => (t[`${W}.bitmap.masks`]!.shape = [48 * 3]), /shape/);
      await expectRefused((t) => (t[`${W}.bitmap.row_ptr`]!.dtype = 'F32'), /dtype/);
      await expectRefused((t) => {
        const v = t[`${W}.bitmap.values`]!;
        t[`${W}.bitmap.values`] = { ...v, shape: [v.shape[0]! - 1], data: v.data.slice(0, -1) };
      });
    });
    test('a mask keeping a column >= K in a partial last group', async () => {
      const D = 'model.layers.0.mlp.down_proj.weight'; // [48, 44]: the last group holds 12 columns
      const t = Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, { ...v, shape: [...v.shape], data: v.data.slice() }]));
      const masks = t[`${D}.bitmap.masks`]!.data as Uint16Array;
      // Move one kept bit of row 0 from its first nonempty group to bit 15 of its last group (popcounts unchanged).
      const g = [0, 1].find((i) => masks[i] !== 0)!;
      masks[g] = masks[g]! & (masks[g]! - 1);
      masks[2] = masks[2]! | 0x8000;
      await writeSafetensors(join(dir, 'model.safetensors'), t, metadata);
      const e = await loadModel(dir).then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toMatchObject({ code: 'ERR_MODEL_FILE' });
      expect((e as Error).message).toMatch(/column >= K/);
    });
  });

  test('permuteRows moves bitmap rows as it moves dense rows; castSparse keeps the masks', () => {
    const w = toBitmap(pruned(12, 37, 0.6, 9));
    const order = Int32Array.from([3, 0, 11, 1, 2, 10, 4, 9, 5, 8, 6, 7]);
    const p = permuteRows(w, order) as BitmapMatrix;
    expect(p).toBeInstanceOf(BitmapMatrix);
    expect(Array.from(p.toDense().data)).toEqual(Array.from((permuteRows(w.toDense(), order) as Tensor).data));
    const c = castSparse(w, 'bf16') as BitmapMatrix;
    expect(c.dtype).toBe('bf16');
    expect(c.masks).toBe(w.masks);
    expect(Array.from(c.toDense().data)).toEqual(Array.from(w.toDense().to('bf16').data));
  });
});
