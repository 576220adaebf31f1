/**
 * llama2.c's tokenizer (tokenizer.bin / tok512.bin): a sentencepiece BPE vocabulary with
 * scores, encoded greedily by merging the adjacent pair whose merge has the highest score
 * (the algorithm of llama2.c's run.c `encode`). Pieces use ' ' where sentencepiece has '▁';
 * byte-fallback tokens look like <0x0A>.
 */
import { SparsennError } from '../errors';
import { modelFileError } from '../models/model_file';
import { decodeWithBytes, type EncodeOptions, type Tokenizer } from './tokenizer';

const MAX_PIECE_BYTES = 1 << 16;

export class Llama2cTokenizer implements Tokenizer {
  readonly bosId = 1;
  readonly eosId = 2;
  /** Piece bytes as latin1 strings (one char per byte) → id: exact byte keys. */
  private readonly ids = new Map<string, number>();
  private readonly byteTokens: Uint8Array[] = [];

  constructor(
    readonly pieces: Uint8Array[],
    readonly scores: Float32Array,
  ) {
    pieces.forEach((p, i) => {
      const key = Buffer.from(p).toString('latin1');
      if (!this.ids.has(key)) this.ids.set(key, i);
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(key);
      this.byteTokens.push(m ? Uint8Array.of(parseInt(m[1]!, 16)) : p);
    });
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  /** Parses a tokenizer file for a model of vocabSize tokens; every length is checked against the file. */
  static parse(bytes: Uint8Array, vocabSize: number, file: string): Llama2cTokenizer {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 4) throw modelFileError(file, 'tokenizer: missing max_token_length');
    const maxLen = dv.getInt32(0, true);
    if (maxLen <= 0 || maxLen > MAX_PIECE_BYTES)
      throw modelFileError(file, `tokenizer: max_token_length must be in [1, ${MAX_PIECE_BYTES}], got ${maxLen}`);
    const pieces: Uint8Array[] = [];
    const scores = new Float32Array(vocabSize);
    let o = 4;
    for (let i = 0; i < vocabSize; i++) {
      if (o + 8 > bytes.length)
        throw modelFileError(file, `tokenizer: token ${i} of ${vocabSize}: file ends at byte ${bytes.length} (truncated, or the model's vocab is larger)`);
      const score = dv.getFloat32(o, true);
      const len = dv.getInt32(o + 4, true);
      o += 8;
      if (!Number.isFinite(score)) throw modelFileError(file, `tokenizer: token ${i} has a non-finite score`);
      if (len < 0 || len > maxLen)
        throw modelFileError(file, `tokenizer: token ${i} claims ${len} bytes, outside [0, max_token_length=${maxLen}]`);
      if (o + len > bytes.length)
        throw modelFileError(file, `tokenizer: token ${i} claims ${len} bytes at offset ${o}, past the end of the ${bytes.length}-byte file`);
      pieces.push(bytes.slice(o, o + len));
      scores[i] = score;
      o += len;
    }
    if (o !== bytes.length)
      throw modelFileError(file, `tokenizer: ${bytes.length - o} trailing bytes after ${vocabSize} tokens (does it belong to this model?)`);
    return new Llama2cTokenizer(pieces, scores);
  }

  isSpecial(id: number): boolean {
    return id === 0 || id === this.bosId || id === this.eosId;
  }

  private lookup(bytes: Uint8Array): number | undefined {
    return this.ids.get(Buffer.from(bytes).toString('latin1'));
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new SparsennError('ERR_ARG', 'encode: text must be a string');
    const out: number[] = [];
    if (opts.bos ?? true) out.push(this.bosId);
    const tokens: number[] = [];
    if (text.length > 0) {
      // sentencepiece's add_dummy_prefix: the text starts with a space.
      const space = this.lookup(Uint8Array.of(0x20));
      if (space !== undefined) tokens.push(space);
      for (const ch of text) {
        const b = Buffer.from(ch, 'utf8');
        const id = this.lookup(b);
        if (id !== undefined) tokens.push(id);
        else for (const byte of b) tokens.push(byte + 3); // byte fallback: <0x00> is token 3
      }
    }
    for (;;) {
      let best = -1e10;
      let bestId = -1;
      let bestIdx = -1;
      for (let i = 0; i + 1 < tokens.length; i++) {
        const a = this.pieces[tokens[i]!]!;
        const b = this.pieces[tokens[i + 1]!]!;
        const merged = new Uint8Array(a.length + b.length);
        merged.set(a);
        merged.set(b, a.length);
        const id = this.lookup(merged);
        if (id !== undefined && this.scores[id]! > best) {
          best = this.scores[id]!;
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx < 0) break;
      tokens.splice(bestIdx, 2, bestId);
    }
    out.push(...tokens);
    if (opts.eos) out.push(this.eosId);
    return out;
  }

  tokenBytes(id: number, prev: number | null): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.pieces.length)
      throw new SparsennError('ERR_ARG', `token id ${id} is outside the vocabulary [0, ${this.pieces.length})`);
    if (this.isSpecial(id)) return new Uint8Array(0);
    const b = this.byteTokens[id]!;
    // run.c: after BOS (or at the very start) a piece's leading dummy-prefix space is dropped;
    // a byte-fallback <0x20> is a real space and stays.
    const atStart = prev === null || prev === this.bosId;
    if (atStart && b === this.pieces[id] && b.length > 0 && b[0] === 0x20) return b.subarray(1);
    return b;
  }

  decode(ids: readonly number[]): string {
    return decodeWithBytes(this, ids);
  }
}
