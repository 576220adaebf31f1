/**
 * tokenizer.json for any tokenizer a Model can hold, so saveModel writes a folder that
 * loadModel (BpeTokenizer.fromJson) reads back into a tokenizer with the same ids and text:
 * - BpeTokenizer (from a Hugging Face folder): the file it was read from, unchanged;
 * - Llama2cTokenizer: the sentencepiece-style BPE that convertLlama2cToSafetensors writes;
 * - ByteTokenizer (synthetic models): byte-level BPE with no merges, ids 0 <unk>, 1 <s>, 2 </s>,
 *   3 + b for byte b (GPT-2's printable byte characters as the pieces).
 */
import { SparsennError } from '../errors';
import { BpeTokenizer } from '../generate/bpe_tokenizer';
import { ByteTokenizer } from '../generate/byte_tokenizer';
import { Llama2cTokenizer } from '../generate/llama2c_tokenizer';
import type { Tokenizer } from '../generate/tokenizer';
import { llama2cTokenizerJson } from './convert';

/** GPT-2's reversible byte → printable character map (the piece spelling of byte-level BPE). */
function byteChars(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : 256 + n++));
}

export function byteTokenizerJson(tok: ByteTokenizer): Record<string, unknown> {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': tok.bosId, '</s>': tok.eosId };
  byteChars().forEach((c, b) => (vocab[c] = 3 + b));
  return {
    version: '1.0',
    added_tokens: [
      { id: 0, content: '<unk>', special: true },
      { id: tok.bosId, content: '<s>', special: true },
      { id: tok.eosId, content: '</s>', special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [tok.bosId], tokens: ['<s>'] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: { type: 'BPE', unk_token: '<unk>', byte_fallback: false, vocab, merges: [] },
  };
}

export function tokenizerJson(tok: Tokenizer): Record<string, unknown> {
  if (tok instanceof Llama2cTokenizer) return llama2cTokenizerJson(tok, 'tokenizer');
  if (tok instanceof ByteTokenizer) return byteTokenizerJson(tok);
  if (tok instanceof BpeTokenizer) {
    const j = tok.toJson();
    if (j) return j;
  }
  throw new SparsennError('ERR_ARG', 'saveModel: this model\'s tokenizer cannot be written as tokenizer.json');
}
