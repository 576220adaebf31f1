/** Pruned weights swapped into stories260K through Model.linears() / Linear.setWeight: sparse formats give the masked-dense logits. */
import { cpuBackend } from '../../lib/backend/select';
import { toCsr } from '../../lib/formats/csr';
import { toNm } from '../../lib/formats/nm';
import { loadModel } from '../../lib/models/load';
import type { LinearWeight } from '../../lib/nn/linear';
import { Tensor } from '../../lib/tensor';
import { relError } from '../helpers';
import { describeWithStories, OPENING, STORIES_BIN, STORIES_TOK } from './stories';

/** Zeroes the 2 smallest |w| of every 4 consecutive inputs. */
function prune24(w: Tensor): Tensor {
  const d = new Float32Array(w.toFloat32());
  for (let g = 0; g < d.length; g += 4) {
    const idx = [0, 1, 2, 3].filter((j) => g + j < d.length).sort((a, b) => Math.abs(d[g + b]!) - Math.abs(d[g + a]!));
    for (const j of idx.slice(2)) d[g + j] = 0;
  }
  return new Tensor(d, w.shape);
}

describeWithStories('sparse weights in a real model', () => {
  const backends = cpuBackend() ? (['js', 'cpu'] as const) : (['js'] as const);

  test.each(backends)('2:4 as N:M and as CSR match the masked dense model (%s)', async (backend) => {
    const m = await loadModel(STORIES_BIN, { tokenizer: STORIES_TOK });
    const ids = m.tokenizer.encode(OPENING);
    const dense = (await m.logits(ids, { backend })).data as Float32Array;
    const pruned = new Map<string, Tensor>();
    for (const [name, lin] of m.linears()) if (name !== 'lm_head') pruned.set(name, prune24(lin.weight as Tensor));
    const run = async (as: (t: Tensor) => LinearWeight) => {
      for (const [name, t] of pruned) m.linears().get(name)!.setWeight(as(t));
      return (await m.logits(ids, { backend })).data as Float32Array;
    };
    const masked = await run((t) => t);
    const csr = await run((t) => toCsr(t));
    const nm = await run((t) => toNm(t, { n: 2, m: 4 }));
    expect(relError(csr, masked)).toBeLessThanOrEqual(1e-5);
    expect(relError(nm, masked)).toBeLessThanOrEqual(1e-5);
    expect(relError(masked, dense)).toBeGreaterThan(1e-3); // pruning really changed the model
    // Still a language model after 2:4 pruning of every layer? Greedy text stays English-like.
    const text = await m.complete([1], { temperature: 0, maxTokens: 20, backend });
    expect(text.length).toBeGreaterThan(10);
  });
});
