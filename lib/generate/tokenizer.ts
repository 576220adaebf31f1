/** The tokenizer interface every model's tokenizer implements, and a streaming text decoder over it. */

export interface EncodeOptions {
  /**
   * Prepend the beginning-of-sequence token. Default: what the model's tokenizer does
   * (llama2.c and Llama-style tokenizer.json: yes; GPT-2: no).
   */
  bos?: boolean;
  /** Append the end-of-sequence token (default false). */
  eos?: boolean;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  encode(text: string, opts?: EncodeOptions): number[];
  /** Text of the ids; special tokens (BOS, EOS, ...) contribute nothing. */
  decode(ids: readonly number[]): string;
  /**
   * The bytes token `id` contributes when it follows `prev` (null at the start): lets the
   * decoding loop stream text without re-decoding everything, and without splitting a
   * UTF-8 character across two chunks (byte-fallback tokens carry single bytes).
   */
  tokenBytes(id: number, prev: number | null): Uint8Array;
  isSpecial(id: number): boolean;
}

/** Turns a stream of token ids into text chunks; incomplete UTF-8 sequences wait for their next bytes. */
export class TextStream {
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  private prev: number | null;

  constructor(
    private readonly tokenizer: Tokenizer,
    prev: number | null = null,
  ) {
    this.prev = prev;
  }

  push(id: number): string {
    const bytes = this.tokenizer.tokenBytes(id, this.prev);
    this.prev = id;
    return this.decoder.decode(bytes, { stream: true });
  }

  /** Whatever is left (an incomplete character becomes U+FFFD). */
  flush(): string {
    return this.decoder.decode();
  }
}

/** Shared decode(): concatenates tokenBytes and decodes once. */
export function decodeWithBytes(t: Tokenizer, ids: readonly number[]): string {
  const parts: Uint8Array[] = [];
  let prev: number | null = null;
  let n = 0;
  for (const id of ids) {
    const b = t.tokenBytes(id, prev);
    parts.push(b);
    n += b.length;
    prev = id;
  }
  const all = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return new TextDecoder('utf-8').decode(all);
}
