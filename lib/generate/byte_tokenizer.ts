/**
 * A byte-level tokenizer for synthetic models: id 0 is <unk>, 1 BOS, 2 EOS, and ids 3..258 are
 * the 256 byte values. Every string round-trips exactly, which is all a synthetic model needs.
 */
import { decodeWithBytes, type EncodeOptions, type Tokenizer } from './tokenizer';

const FIRST_BYTE = 3;
const EMPTY = new Uint8Array(0);
const BYTE_PIECES = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));

export class ByteTokenizer implements Tokenizer {
  readonly vocabSize = FIRST_BYTE + 256;
  readonly bosId = 1;
  readonly eosId = 2;

  encode(text: string, opts?: EncodeOptions): number[] {
    const ids: number[] = [];
    if (opts?.bos ?? true) ids.push(this.bosId);
    for (const b of new TextEncoder().encode(text)) ids.push(FIRST_BYTE + b);
    if (opts?.eos) ids.push(this.eosId);
    return ids;
  }

  decode(ids: readonly number[]): string {
    return decodeWithBytes(this, ids);
  }

  tokenBytes(id: number): Uint8Array {
    return id >= FIRST_BYTE && id < this.vocabSize ? BYTE_PIECES[id - FIRST_BYTE]! : EMPTY;
  }

  isSpecial(id: number): boolean {
    return id < FIRST_BYTE;
  }
}
