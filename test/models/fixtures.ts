/** Tiny synthetic llama2.c checkpoints and tokenizers for tests (random weights, valid layout). */
import { rng } from '../helpers';

/** A tiny valid llama2.c checkpoint with the given header. */
export function llama2cFile(h: number[], floats?: number): Buffer {
  const [dim, hidden, layers, heads, kv, vocab, seq] = h as [number, number, number, number, number, number, number];
  const hs = dim / heads;
  const kvDim = (kv * dim) / heads;
  const n =
    floats ??
    Math.abs(vocab) * dim +
      layers * (2 * dim + 2 * dim * dim + 2 * kvDim * dim + 3 * hidden * dim) +
      dim +
      seq * hs +
      (vocab < 0 ? -vocab * dim : 0);
  const b = Buffer.alloc(28 + n * 4);
  h.forEach((v, i) => b.writeInt32LE(v, i * 4));
  const r = rng(5);
  for (let i = 0; i < n; i++) b.writeFloatLE(r() - 0.5, 28 + i * 4);
  return b;
}

export const GOOD = [16, 24, 2, 4, 2, 32, 16];

export function tokFile(vocab: number, lie?: { index: number; len: number }): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(4);
  head.writeInt32LE(8);
  parts.push(head);
  for (let i = 0; i < vocab; i++) {
    const piece = Buffer.from(i < 3 ? ['<unk>', '\n<s>\n', '\n</s>\n'][i]! : `t${i}`);
    const h = Buffer.alloc(8);
    h.writeFloatLE(-i, 0);
    h.writeInt32LE(lie && lie.index === i ? lie.len : piece.length, 4);
    parts.push(h, piece);
  }
  return Buffer.concat(parts);
}

