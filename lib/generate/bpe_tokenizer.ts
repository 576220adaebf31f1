/**
 * BPE tokenizers from Hugging Face tokenizer.json (model.type "BPE"), in the two styles
 * causal LMs use:
 * - byte-level (GPT-2, Llama 3, Qwen2): text is split by a regex pre-tokenizer, each piece's
 *   UTF-8 bytes are mapped to printable characters (GPT-2's bytes_to_unicode), then merged;
 * - sentencepiece-style (Llama 2, Mistral): spaces become "▁" (with a "▁" prefix), characters
 *   are merged, and characters missing from the vocabulary fall back to <0xNN> byte tokens.
 * Merges apply lowest rank first. Special tokens written in the input text are treated
 * as plain text (never parsed as control tokens): safer for user-supplied prompts.
 */
import { SparsennError } from '../errors';
import { modelFileError } from '../models/model_file';
import { decodeWithBytes, type EncodeOptions, type Tokenizer } from './tokenizer';

// GPT-2's pre-tokenizer pattern.
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const MAX_VOCAB = 1 << 22;

/** GPT-2's reversible map from bytes to printable Unicode characters. */
function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const map: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + n++);
  return map;
}

const BYTE_CHARS = bytesToUnicode();
const CHAR_BYTES = new Map(BYTE_CHARS.map((c, b) => [c, b]));

function utf8(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

type Style = 'byte-level' | 'sentencepiece';

export interface BpeTokenizerSpec {
  vocab: Map<string, number>;
  merges: [string, string][];
  style: Style;
  /** Regex that splits text before BPE (byte-level); null = no split. */
  split: RegExp | null;
  /** Prepend a space / "▁" to the text. */
  addPrefixSpace: boolean;
  byteFallback: boolean;
  unkId: number | null;
  specialIds: Set<number>;
  bosId: number | null;
  eosId: number | null;
  addBos: boolean;
  /** The tokenizer.json this was built from (kept so saveModel can write it back unchanged). */
  source?: Record<string, unknown>;
}

/**
 * Rewrites inline case-insensitive groups (?i:...), which Llama 3 and Qwen2 pre-tokenizer
 * patterns use and older JavaScript engines reject, as plain groups with each ASCII letter
 * spelled [xX]. Only letters outside character classes and escapes are rewritten.
 */
export function inlineCaseInsensitive(pattern: string): string {
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    if (!pattern.startsWith('(?i:', i)) {
      // Copy one token: an escape pair, or a single character.
      const n = pattern[i] === '\\' ? 2 : 1;
      out += pattern.slice(i, i + n);
      i += n;
      continue;
    }
    out += '(?:';
    i += 4;
    let depth = 1;
    let inClass = false;
    while (i < pattern.length && depth > 0) {
      const c = pattern[i]!;
      if (c === '\\') {
        out += c + (pattern[i + 1] ?? '');
        i += 2;
        continue;
      }
      if (inClass) inClass = c !== ']';
      else if (c === '[') inClass = true;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
      if (!inClass && /[a-zA-Z]/.test(c)) out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
      else out += c;
      i++;
    }
  }
  return out;
}

function asObject(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** Every component of a tokenizer.json field, flattening "Sequence" nodes. */
function components(v: unknown): Record<string, unknown>[] {
  const o = asObject(v);
  if (!o) return [];
  if (o.type === 'Sequence') {
    const inner = (o.pretokenizers ?? o.normalizers ?? o.decoders ?? o.processors) as unknown[];
    return Array.isArray(inner) ? inner.flatMap(components) : [];
  }
  return [o];
}

export class BpeTokenizer implements Tokenizer {
  readonly bosId: number | null;
  readonly eosId: number | null;
  private readonly ranks = new Map<string, number>();
  private readonly pieces: string[] = [];
  private readonly bytesOf: Uint8Array[] = [];
  private readonly cache = new Map<string, number[]>();

  constructor(private readonly spec: BpeTokenizerSpec) {
    this.bosId = spec.bosId;
    this.eosId = spec.eosId;
    spec.merges.forEach(([a, b], i) => {
      const key = a + ' ' + b;
      if (!this.ranks.has(key)) this.ranks.set(key, i);
    });
    for (const [piece, id] of spec.vocab) this.pieces[id] = piece;
    for (let id = 0; id < this.pieces.length; id++) this.bytesOf[id] = this.pieceBytes(this.pieces[id] ?? '');
  }

  private pieceBytes(p: string): Uint8Array {
    if (this.spec.style === 'byte-level') {
      const out: number[] = [];
      for (const ch of p) {
        const b = CHAR_BYTES.get(ch);
        if (b === undefined) out.push(...utf8(ch));
        else out.push(b);
      }
      return Uint8Array.from(out);
    }
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(p);
    if (m && this.spec.byteFallback) return Uint8Array.of(parseInt(m[1]!, 16));
    return utf8(p.replace(/▁/g, ' '));
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  /** Builds a tokenizer from parsed tokenizer.json; structural problems are ERR_MODEL_FILE. */
  static fromJson(json: Record<string, unknown>, ids: { bosId: number | null; eosId: number | null; file: string }): BpeTokenizer {
    const file = ids.file;
    const model = asObject(json.model);
    if (!model || model.type !== 'BPE')
      throw modelFileError(file, `tokenizer model type ${JSON.stringify(model?.type)} is not supported (BPE only)`);
    const rawVocab = asObject(model.vocab);
    if (!rawVocab) throw modelFileError(file, 'model.vocab must be an object');
    const vocab = new Map<string, number>();
    const used = new Set<number>();
    const addToken = (piece: string, id: unknown) => {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= MAX_VOCAB)
        throw modelFileError(file, `token ${JSON.stringify(piece)} has an invalid id ${JSON.stringify(id)}`);
      if (vocab.get(piece) === id) return;
      if (used.has(id)) throw modelFileError(file, `id ${id} is given to two tokens`);
      vocab.set(piece, id);
      used.add(id);
    };
    for (const [piece, id] of Object.entries(rawVocab)) addToken(piece, id);
    const specialIds = new Set<number>();
    const added = Array.isArray(json.added_tokens) ? json.added_tokens : [];
    for (const t of added) {
      const o = asObject(t);
      if (!o || typeof o.content !== 'string') throw modelFileError(file, 'added_tokens entries need a string content');
      if (!vocab.has(o.content)) addToken(o.content, o.id);
      if (o.special === true) specialIds.add(vocab.get(o.content)!);
    }
    // Ids must be dense: a hole would leave a token with no text.
    for (let i = 0; i < vocab.size; i++)
      if (!used.has(i)) throw modelFileError(file, `token ids are not contiguous: id ${i} is missing (${vocab.size} tokens)`);
    const rawMerges = Array.isArray(model.merges) ? model.merges : [];
    const merges: [string, string][] = rawMerges.map((m, i) => {
      if (typeof m === 'string') {
        const k = m.indexOf(' ', 1);
        if (k < 0) throw modelFileError(file, `merge ${i} ${JSON.stringify(m)} is not "a b"`);
        return [m.slice(0, k), m.slice(k + 1)];
      }
      if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
      throw modelFileError(file, `merge ${i} must be "a b" or ["a", "b"]`);
    });
    const pre = components(json.pre_tokenizer);
    const norm = components(json.normalizer);
    const byteLevel = pre.find((p) => p.type === 'ByteLevel');
    const metaspace = pre.find((p) => p.type === 'Metaspace');
    let style: Style;
    let split: RegExp | null = null;
    let addPrefixSpace = false;
    if (byteLevel) {
      style = 'byte-level';
      addPrefixSpace = byteLevel.add_prefix_space === true;
      const splitter = pre.find((p) => p.type === 'Split');
      const pattern = asObject(asObject(splitter?.pattern)?.Regex);
      const rx = asObject(splitter?.pattern)?.Regex;
      if (splitter) {
        if (typeof rx !== 'string' || pattern) throw modelFileError(file, 'Split pre-tokenizer needs a Regex pattern');
        try {
          split = new RegExp(inlineCaseInsensitive(rx), 'gu');
        } catch (e) {
          throw modelFileError(file, `Split pre-tokenizer regex is not supported by JavaScript (${(e as Error).message})`);
        }
      } else if (byteLevel.use_regex !== false) split = GPT2_SPLIT;
    } else if (metaspace || norm.some((n) => n.type === 'Replace')) {
      style = 'sentencepiece';
      addPrefixSpace = metaspace
        ? metaspace.prepend_scheme !== 'never' && metaspace.add_prefix_space !== false
        : norm.some((n) => n.type === 'Prepend');
      if (metaspace?.split === true) split = /▁?[^▁]+|▁+/gu;
    } else throw modelFileError(file, 'cannot tell the tokenizer style: expected a ByteLevel or Metaspace pre-tokenizer, or a Replace normalizer');
    const unk = typeof model.unk_token === 'string' ? (vocab.get(model.unk_token) ?? null) : null;
    const check = (id: number | null) => (id !== null && id < vocab.size ? id : null);
    const bosId = check(ids.bosId);
    const post = JSON.stringify(json.post_processor ?? null);
    const bosPiece = bosId === null ? null : [...vocab].find(([, i]) => i === bosId)?.[0];
    return new BpeTokenizer({
      vocab,
      merges,
      style,
      split,
      addPrefixSpace,
      byteFallback: model.byte_fallback === true,
      unkId: unk,
      specialIds,
      bosId,
      eosId: check(ids.eosId),
      addBos: bosPiece !== undefined && bosPiece !== null && post.includes(JSON.stringify(bosPiece)),
      source: json,
    });
  }

  /** The tokenizer.json it was read from, or null when it was built from a spec directly. */
  toJson(): Record<string, unknown> | null {
    return this.spec.source ?? null;
  }

  isSpecial(id: number): boolean {
    return this.spec.specialIds.has(id) || id === this.bosId || id === this.eosId;
  }

  /** BPE over one pre-tokenized word: merges the lowest-ranked adjacent pair until none applies. */
  private bpe(symbols: string[]): string[] {
    for (;;) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const r = this.ranks.get(symbols[i]! + ' ' + symbols[i + 1]!);
        if (r !== undefined && r < best) {
          best = r;
          at = i;
        }
      }
      if (at < 0) return symbols;
      symbols.splice(at, 2, symbols[at]! + symbols[at + 1]!);
    }
  }

  private encodeWord(word: string): number[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    const sp = this.spec;
    const symbols = sp.style === 'byte-level' ? Array.from(utf8(word), (b) => BYTE_CHARS[b]!) : Array.from(word);
    const out: number[] = [];
    for (const s of this.bpe(symbols)) {
      const id = sp.vocab.get(s);
      if (id !== undefined) out.push(id);
      else if (sp.byteFallback) {
        for (const b of utf8(s)) {
          const bid = sp.vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
          if (bid !== undefined) out.push(bid);
          else if (sp.unkId !== null) out.push(sp.unkId);
        }
      } else if (sp.unkId !== null) out.push(sp.unkId);
      else throw new SparsennError('ERR_ARG', `encode: ${JSON.stringify(s)} has no token and the tokenizer has no unknown token`);
    }
    if (word.length < 64) this.cache.set(word, out);
    return out;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new SparsennError('ERR_ARG', 'encode: text must be a string');
    const sp = this.spec;
    const out: number[] = [];
    if ((opts.bos ?? sp.addBos) && this.bosId !== null) out.push(this.bosId);
    if (text.length > 0) {
      let t = text;
      if (sp.style === 'sentencepiece') t = (sp.addPrefixSpace ? '▁' : '') + t.replace(/ /g, '▁');
      else if (sp.addPrefixSpace && !t.startsWith(' ')) t = ' ' + t;
      const words = sp.split ? (t.match(sp.split) ?? []) : [t];
      for (const w of words) out.push(...this.encodeWord(w));
    }
    if (opts.eos && this.eosId !== null) out.push(this.eosId);
    return out;
  }

  tokenBytes(id: number, prev: number | null): Uint8Array {
    if (!Number.isInteger(id) || id < 0 || id >= this.pieces.length)
      throw new SparsennError('ERR_ARG', `token id ${id} is outside the vocabulary [0, ${this.pieces.length})`);
    if (this.isSpecial(id)) return new Uint8Array(0);
    const b = this.bytesOf[id]!;
    // sentencepiece decoding drops the prefix space at the start of the text.
    const sp = this.spec;
    if (sp.style === 'sentencepiece' && sp.addPrefixSpace && (prev === null || prev === this.bosId) && b[0] === 0x20 && this.pieces[id]!.startsWith('▁'))
      return b.subarray(1);
    return b;
  }

  decode(ids: readonly number[]): string {
    return decodeWithBytes(this, ids);
  }
}
