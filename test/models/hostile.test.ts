/**
 * Untrusted model files: truncated files, lying headers, absurd sizes. Every case must
 * be refused with ERR_MODEL_FILE before any large allocation, and none may crash.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SparsennError } from '../../lib/errors';
import { Llama2cTokenizer } from '../../lib/generate/llama2c_tokenizer';
import { convertLlama2cToSafetensors } from '../../lib/models/convert';
import { loadModel } from '../../lib/models/load';
import { rng, randInt } from '../helpers';
import { GOOD, llama2cFile, tokFile } from './fixtures';
import { describeWithStories, STORIES_BIN, STORIES_TOK } from './stories';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sparsenn-hostile-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function expectModelFileError(p: Promise<unknown>, match?: RegExp): Promise<SparsennError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SparsennError);
  expect((err as SparsennError).code).toBe('ERR_MODEL_FILE');
  if (match) expect((err as Error).message).toMatch(match);
  return err as SparsennError;
}

function write(name: string, data: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

describe('llama2.c checkpoints', () => {
  test('a valid tiny file loads (the fixtures below are otherwise right)', async () => {
    const m = await loadModel(write('good.bin', llama2cFile(GOOD)), { tokenizer: write('good.tok', tokFile(32)) });
    expect(m.config.dim).toBe(16);
    expect((await m.logits([1, 5, 7])).shape).toEqual([3, 32]);
  });

  test('truncated file names the cut-off tensor', async () => {
    const full = llama2cFile(GOOD);
    const tok = write('t.tok', tokFile(32));
    await expectModelFileError(loadModel(write('trunc.bin', full.subarray(0, 28 + 32 * 16 * 4 + 8)), { tokenizer: tok }), /tensor rms_att/);
    await expectModelFileError(loadModel(write('trunc2.bin', full.subarray(0, full.length - 4)), { tokenizer: tok }), /freq_cis_imag/);
    await expectModelFileError(loadModel(write('hdr.bin', full.subarray(0, 10)), { tokenizer: tok }), /header/);
    await expectModelFileError(loadModel(write('empty.bin', Buffer.alloc(0)), { tokenizer: tok }));
  });

  test('trailing bytes are refused', async () => {
    const tok = write('t.tok', tokFile(32));
    await expectModelFileError(loadModel(write('long.bin', Buffer.concat([llama2cFile(GOOD), Buffer.alloc(4)])), { tokenizer: tok }), /trailing/);
  });

  test.each([
    ['negative dim', [-16, 24, 2, 4, 2, 32, 16], /dim/],
    ['zero layers', [16, 24, 0, 4, 2, 32, 16], /layers/],
    ['huge dim', [1 << 30, 24, 2, 4, 2, 32, 16], /dim/],
    ['huge vocab', [16, 24, 2, 4, 2, 2147483647, 16], /vocabSize/],
    ['huge everything (size overflows)', [65536, 262144, 1024, 1024, 1024, 4194304, 1048576], /bytes/],
    ['heads do not divide dim', [16, 24, 2, 3, 1, 32, 16], /multiple/],
    ['kv heads do not divide heads', [16, 24, 2, 4, 3, 32, 16], /multiple/],
    ['more kv heads than heads', [16, 24, 2, 4, 8, 32, 16], /n_kv_heads/],
    ['odd head size', [12, 24, 2, 4, 2, 32, 16], /even/],
  ])('%s', async (_name, header, msg) => {
    const b = Buffer.alloc(28 + 4096);
    header.forEach((v, i) => b.writeInt32LE(v, i * 4));
    await expectModelFileError(loadModel(write('bad.bin', b), { tokenizer: write('t.tok', tokFile(32)) }), msg);
  });

  test('fuzz: random header fields, truncation and growth are all refused cleanly', async () => {
    const valid = llama2cFile(GOOD);
    const tok = write('fz.tok', tokFile(32));
    const r = rng(11);
    for (let i = 0; i < 150; i++) {
      const b = Buffer.from(valid);
      const kind = i % 3;
      let data: Buffer = b;
      if (kind === 0) {
        // One header field changed to a random, different value (small, large, negative).
        const f = randInt(r, 0, 6);
        const old = b.readInt32LE(f * 4);
        let v = old;
        while (v === old) v = [randInt(r, -4, 64), randInt(r, -(2 ** 31), 2 ** 31 - 1), old * 2, old + 1, -old][randInt(r, 0, 4)]!;
        b.writeInt32LE(v, f * 4);
      } else if (kind === 1) data = b.subarray(0, randInt(r, 0, b.length - 1));
      else data = Buffer.concat([b, Buffer.alloc(randInt(r, 1, 64))]);
      await expectModelFileError(loadModel(write('fz.bin', data), { tokenizer: tok }));
    }
  });

  test('the vocab sign selects a separate classifier, which must then be present', async () => {
    const h = [...GOOD];
    h[5] = -32;
    const m = await loadModel(write('cls.bin', llama2cFile(h)), { tokenizer: write('t.tok', tokFile(32)) });
    expect(m.config.tiedEmbeddings).toBe(false);
    const b = llama2cFile(GOOD);
    b.writeInt32LE(-32, 20); // claims a classifier the file does not have
    await expectModelFileError(loadModel(write('cls2.bin', b), { tokenizer: write('t.tok', tokFile(32)) }), /classifier/);
  });
});

describe('llama2.c tokenizer files', () => {
  test.each([
    ['length past the end', { index: 31, len: 7 }, /past the end/],
    ['negative length', { index: 4, len: -1 }, /outside/],
    ['length above max_token_length', { index: 4, len: 1000 }, /outside/],
  ])('%s', (_n, lie, msg) => {
    expect(() => Llama2cTokenizer.parse(tokFile(32, lie), 32, 'x.tok')).toThrow(msg);
    try {
      Llama2cTokenizer.parse(tokFile(32, lie), 32, 'x.tok');
    } catch (e) {
      expect((e as SparsennError).code).toBe('ERR_MODEL_FILE');
    }
  });

  test('fewer or more tokens than the model expects', () => {
    expect(() => Llama2cTokenizer.parse(tokFile(31), 32, 'x.tok')).toThrow(/truncated/);
    expect(() => Llama2cTokenizer.parse(tokFile(33), 32, 'x.tok')).toThrow(/trailing/);
  });

  test('absurd max_token_length, non-finite score, empty file', () => {
    const a = tokFile(32);
    a.writeInt32LE(-5, 0);
    expect(() => Llama2cTokenizer.parse(a, 32, 'x')).toThrow(/max_token_length/);
    const b = tokFile(32);
    b.writeFloatLE(NaN, 4);
    expect(() => Llama2cTokenizer.parse(b, 32, 'x')).toThrow(/score/);
    expect(() => Llama2cTokenizer.parse(new Uint8Array(0), 32, 'x')).toThrow(/max_token_length/);
  });

  test('fuzz: random truncation never crashes, always ERR_MODEL_FILE', () => {
    const t = tokFile(32);
    const r = rng(13);
    for (let i = 0; i < 100; i++) {
      const cut = t.subarray(0, randInt(r, 0, t.length - 1));
      let code: string | undefined;
      try {
        Llama2cTokenizer.parse(cut, 32, 'x');
      } catch (e) {
        code = (e as SparsennError).code;
      }
      expect(code).toBe('ERR_MODEL_FILE');
    }
  });
});

describeWithStories('safetensors folders', () => {
  let good: string;
  let st: Buffer;
  let headerLen: number;
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  beforeAll(async () => {
    good = join(dir, 'hf-good');
    await convertLlama2cToSafetensors(STORIES_BIN, STORIES_TOK, good);
    st = readFileSync(join(good, 'model.safetensors'));
    headerLen = Number(st.readBigUInt64LE(0));
    header = JSON.parse(st.subarray(8, 8 + headerLen).toString('utf8'));
  });

  /** A copy of the good folder with a replaced model.safetensors / config.json. */
  function variant(name: string, files: Record<string, Buffer | string>): string {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) writeFileSync(join(d, f), readFileSync(join(good, f)));
    for (const [f, data] of Object.entries(files)) writeFileSync(join(d, f), data);
    return d;
  }

  function withHeader(h: unknown, data = st.subarray(8 + headerLen)): Buffer {
    const json = Buffer.from(JSON.stringify(h));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    return Buffer.concat([len, json, data]);
  }

  const NAME = 'model.layers.1.self_attn.k_proj.weight';
  const edit = (fn: (e: { dtype: string; shape: number[]; data_offsets: [number, number] }) => void) => {
    const h = structuredClone(header);
    fn(h[NAME]!);
    return withHeader(h);
  };

  test('the unmodified folder loads', async () => {
    expect((await loadModel(variant('ok', {}))).config.layers).toBe(5);
  });

  test.each([
    ['truncated data', () => st.subarray(0, st.length - 100), /past the end/],
    ['header length past the end', () => { const b = Buffer.from(st); b.writeBigUInt64LE(BigInt(st.length), 0); return b; }, /header claims/],
    ['header length 2^64-1', () => { const b = Buffer.from(st); b.writeBigUInt64LE(2n ** 64n - 1n, 0); return b; }, /header claims/],
    ['file shorter than 8 bytes', () => Buffer.alloc(5), /no header/],
    ['header not JSON', () => withHeader('x').fill(0x7b, 8, 12), /JSON/],
    ['header a JSON array', () => withHeader([1, 2]), /object/],
    ['offsets past the end', () => edit((e) => { e.data_offsets = [e.data_offsets[0], 1e12]; }), new RegExp(NAME.replace(/\./g, '\\.'))],
    ['offsets backwards', () => edit((e) => { e.data_offsets = [e.data_offsets[1], e.data_offsets[0]]; }), /backwards/],
    ['negative offset', () => edit((e) => { e.data_offsets = [-4, e.data_offsets[1]]; }), /data_offsets/],
    ['shape that disagrees with offsets', () => edit((e) => { e.shape = [e.shape[0]! + 1, e.shape[1]!]; }), /needs/],
    ['huge shape', () => edit((e) => { e.shape = [2 ** 40, 2 ** 40]; }), /needs/],
    ['unknown dtype', () => edit((e) => { e.dtype = 'Q4'; }), /unknown dtype/],
    ['unsupported dtype', () => edit((e) => { e.dtype = 'I16'; e.shape = [e.shape[0]! * 2, e.shape[1]!]; }), /not supported/],
    ['overlapping tensors', () => edit((e) => { e.data_offsets = [0, e.data_offsets[1] - e.data_offsets[0]]; }), /overlap/],
    ['missing tensor', () => { const h = structuredClone(header); delete h[NAME]; return withHeader(h); }, /missing/],
    ['shape that disagrees with the config', () => edit((e) => { e.shape = [e.shape[1]!, e.shape[0]!]; }), /config/],
  ])('%s', async (name, make, msg) => {
    await expectModelFileError(loadModel(variant(name.replace(/\W/g, '_'), { 'model.safetensors': make() })), msg);
  });

  test('config that disagrees with the tensors, or is absurd', async () => {
    const cfg = JSON.parse(readFileSync(join(good, 'config.json'), 'utf8'));
    await expectModelFileError(loadModel(variant('cfg1', { 'config.json': JSON.stringify({ ...cfg, hidden_size: 128 }) })), /shape/);
    await expectModelFileError(loadModel(variant('cfg2', { 'config.json': JSON.stringify({ ...cfg, num_hidden_layers: 1e9 }) })), /num_hidden_layers/);
    await expectModelFileError(loadModel(variant('cfg3', { 'config.json': JSON.stringify({ ...cfg, num_key_value_heads: 3 }) })), /multiple/);
    await expectModelFileError(loadModel(variant('cfg4', { 'config.json': JSON.stringify({ ...cfg, model_type: 'bert' }) })), /not supported/);
    await expectModelFileError(loadModel(variant('cfg5', { 'config.json': '{ not json' })), /JSON/);
  });

  test('tokenizer.json that lies or is unsupported', async () => {
    const tok = JSON.parse(readFileSync(join(good, 'tokenizer.json'), 'utf8'));
    const v = (name: string, t: unknown) => variant(name, { 'tokenizer.json': JSON.stringify(t) });
    await expectModelFileError(loadModel(v('tok1', { ...tok, model: { ...tok.model, type: 'Unigram' } })), /BPE only/);
    await expectModelFileError(loadModel(v('tok2', { ...tok, model: { ...tok.model, vocab: { ...tok.model.vocab, extra: 3 } } })), /two tokens/);
    await expectModelFileError(loadModel(v('tok3', { ...tok, model: { ...tok.model, vocab: { ...tok.model.vocab, extra: 9999 } } })), /contiguous/);
    await expectModelFileError(loadModel(v('tok4', { ...tok, model: { ...tok.model, vocab: { ...tok.model.vocab, extra: -1 } } })), /invalid id/);
    await expectModelFileError(loadModel(v('tok5', { ...tok, model: { ...tok.model, merges: ['nospace'] } })), /merge 0/);
    await expectModelFileError(loadModel(v('tok6', { ...tok, model: { ...tok.model, merges: [[1, 2]] } })), /merge 0/);
    await expectModelFileError(loadModel(v('tok7', { ...tok, normalizer: null })), /style/);
    const bigVocab: Record<string, number> = { ...tok.model.vocab };
    for (let i = 512; i < 600; i++) bigVocab[`x${i}`] = i;
    await expectModelFileError(loadModel(v('tok8', { ...tok, model: { ...tok.model, vocab: bigVocab } })), /only 512/);
    await expectModelFileError(loadModel(variant('tok9', { 'tokenizer.json': '[1,2' })), /JSON/);
  });

  test('sharded index may not point outside the folder', async () => {
    const d = join(dir, 'sharded');
    mkdirSync(d, { recursive: true });
    for (const f of ['config.json', 'tokenizer.json']) writeFileSync(join(d, f), readFileSync(join(good, f)));
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { [NAME]: '../hf-good/model.safetensors' } }));
    await expectModelFileError(loadModel(d), /shard/);
  });

  test('sharded folder loads when the index is honest', async () => {
    const d = join(dir, 'sharded-ok');
    mkdirSync(d, { recursive: true });
    for (const f of ['config.json', 'tokenizer.json']) writeFileSync(join(d, f), readFileSync(join(good, f)));
    // Two shards: layer tensors in one file, everything else in the other.
    const names = Object.keys(header).filter((n) => n !== '__metadata__');
    const a = names.filter((n) => n.includes('layers'));
    const b = names.filter((n) => !n.includes('layers'));
    const shard = (list: string[]) => {
      const h: Record<string, unknown> = {};
      const parts: Buffer[] = [];
      let off = 0;
      for (const n of list) {
        const e = header[n]!;
        const bytes = st.subarray(8 + headerLen + e.data_offsets[0], 8 + headerLen + e.data_offsets[1]);
        h[n] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + bytes.length] };
        parts.push(bytes);
        off += bytes.length;
      }
      return withHeader(h, Buffer.concat(parts));
    };
    writeFileSync(join(d, 'model-00001-of-00002.safetensors'), shard(a));
    writeFileSync(join(d, 'model-00002-of-00002.safetensors'), shard(b));
    const map: Record<string, string> = {};
    for (const n of a) map[n] = 'model-00001-of-00002.safetensors';
    for (const n of b) map[n] = 'model-00002-of-00002.safetensors';
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: map }));
    const m = await loadModel(d);
    const ref = await loadModel(good);
    const ids = [1, 403, 407, 261];
    expect(Array.from((await m.logits(ids)).data)).toEqual(Array.from((await ref.logits(ids)).data));
  });

  test('fuzz: random header edits and truncations are all refused cleanly', async () => {
    const r = rng(17);
    const names = Object.keys(header).filter((n) => n !== '__metadata__');
    for (let i = 0; i < 60; i++) {
      const h = structuredClone(header);
      const e = h[names[randInt(r, 0, names.length - 1)]!]!;
      let data: Buffer;
      switch (i % 5) {
        case 0:
          e.data_offsets[1] += randInt(r, 1, 1 << 20);
          data = withHeader(h);
          break;
        case 1:
          e.shape[randInt(r, 0, e.shape.length - 1)] = randInt(r, 0, 1 << 16) * 2 + 1;
          data = withHeader(h);
          break;
        case 2:
          e.dtype = ['F16', 'BF16', 'I8', 'U8', 'BOOL', 'X'][randInt(r, 0, 5)]!;
          data = withHeader(h);
          break;
        case 3:
          data = st.subarray(0, randInt(r, 0, st.length - 1));
          break;
        default: {
          data = Buffer.from(st);
          data.writeBigUInt64LE(BigInt(headerLen + randInt(r, 1, 1 << 30)), 0);
        }
      }
      await expectModelFileError(loadModel(variant('fuzz', { 'model.safetensors': data })));
    }
  });
});
