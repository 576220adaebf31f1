/**
 * Decode-phase policies (Quest, Double Sparsity, TidalDecode) with `prefill: 'dense'`: the prompt
 * runs as the dense causal kernel, as the papers do, so its rows equal attention without a policy;
 * the per-row default ('rows') selects at every prompt row and differs when the budget is small.
 * A decode step after such a prompt still selects (differs from dense).
 */
import { createAttentionPolicy, type AttentionSpec } from '../../lib/attention/create';
import { KvCache } from '../../lib/generate/kv_cache';
import { attendSpans } from '../../lib/nn/attention';
import { Tensor } from '../../lib/tensor';
import { codeOf, relError } from '../helpers';

const heads = 8;
const kvHeads = 2;
const D = 16;
const shape = { heads, kvHeads, headDim: D };

async function prefill(spec: AttentionSpec | undefined, T: number): Promise<Float32Array> {
  const cache = new KvCache(4, kvHeads, D, 4096, T);
  cache.fillSynthetic(T, 7);
  cache.length = 0; // the prompt rows are in the cache, as the model writes them before attention
  const q = Tensor.random([T * heads * D], 3).data as Float32Array;
  const out = new Float32Array(T * heads * D);
  const policy = spec && createAttentionPolicy(spec);
  // Layer 0 first, as a forward pass would (TidalDecode's selection layer chooses there), then layer 2.
  for (const layer of [0, 2]) await attendSpans(q, [{ cache, pos0: 0, row: 0, count: T }], layer, shape, out, policy, 'cpu');
  return out;
}

async function decodeStep(spec: AttentionSpec | undefined, L: number): Promise<Float32Array> {
  const cache = new KvCache(4, kvHeads, D, 4096, L);
  cache.fillSynthetic(L, 9);
  cache.length = L - 1;
  const q = Tensor.random([heads * D], 5).data as Float32Array;
  const out = new Float32Array(heads * D);
  const policy = spec && createAttentionPolicy(spec);
  for (const layer of [0, 2]) await attendSpans(q, [{ cache, pos0: L - 1, row: 0, count: 1 }], layer, shape, out, policy, 'cpu');
  return out;
}

const SPECS: AttentionSpec[] = [
  { policy: 'quest', budget: 32, pageSize: 16 },
  { policy: 'doubleSparsity', budget: 32 },
  { policy: 'tidal', budget: 32, selectionLayers: [0] },
];

describe.each(SPECS)("prefill: 'dense' ($policy)", (spec) => {
  test('the prompt equals attention without a policy; per-row prefill does not', async () => {
    const T = 300;
    const dense = await prefill(undefined, T);
    expect(relError(await prefill({ ...spec, prefill: 'dense' } as AttentionSpec, T), dense)).toBeLessThan(1e-6);
    expect(relError(await prefill({ ...spec, prefill: 'rows' } as AttentionSpec, T), dense)).toBeGreaterThan(1e-3);
  });

  test('a decode step still selects', async () => {
    const L = 400;
    const dense = await decodeStep(undefined, L);
    expect(relError(await decodeStep({ ...spec, prefill: 'dense' } as AttentionSpec, L), dense)).toBeGreaterThan(1e-3);
  });

  test('a bad prefill value is refused', () => {
    expect(codeOf(() => createAttentionPolicy({ ...spec, prefill: 'blocks' } as unknown as AttentionSpec))).toBe('ERR_ARG');
  });
});
