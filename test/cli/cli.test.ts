/** The `sparsenn` command as a user runs it (the built dist/lib/cli/main.js). */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CALIBRATION_STORIES } from '../../bench/quality/texts';

const root = path.resolve(__dirname, '../..');
const cli = path.join(root, 'dist/lib/cli/main.js');
const built = fs.existsSync(cli);
const describeBuilt = built || process.env.CI ? describe : describe.skip;
if (!built && !process.env.CI) console.warn('cli tests skipped: run `npm run build` first');

const modelDir = process.env.SPARSENN_TEST_MODELS ?? path.resolve(root, '../shared/models');
const bin = path.join(modelDir, 'stories260K/stories260K.bin');
const tok = path.join(modelDir, 'stories260K/tok512.bin');
const haveModel = fs.existsSync(bin) && fs.existsSync(tok);
if (!haveModel) console.warn(`cli model tests skipped: ${bin} not found (shared test model)`);
const testModel = haveModel ? test : test.skip;

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 120000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describeBuilt('sparsenn command', () => {
  test('--help works for every command', () => {
    for (const c of [[], ['generate'], ['prune'], ['eval'], ['convert'], ['bench'], ['doctor']]) {
      const r = run([...c, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/Usage: sparsenn/);
    }
  });

  test('doctor --json says which backend and binary', () => {
    const r = run(['doctor', '--json']);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.out) as Record<string, unknown>;
    expect(d).toMatchObject({ node: process.versions.node, platform: `${process.platform}-${process.arch}` });
    expect(['cpu', 'js', 'cuda']).toContain(d.backend);
    expect(d.cuda).toEqual(expect.objectContaining({ available: expect.any(Boolean) }));
  });

  test('bad arguments: exit code 1 and a message that says what to do', () => {
    const r = run(['generate', '--max-tokens', 'lots']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--max-tokens must be an integer/);
    const m = run(['generate', '--model', '/nonexistent.bin']);
    expect(m.code).toBe(1);
    expect(m.err).toMatch(/ERR_MODEL_FILE/);
    const p = run(['prune', '--prune', 'wanda', '--sparsity', '0.5']);
    expect(p.code).toBe(1);
    expect(p.err).toMatch(/calibration/i);
    const q = run(['prune', '--method', 'sparsegpt', '--pattern', '2:4']);
    expect(q.code).toBe(1);
    expect(q.err).toMatch(/needs --calibration FILE/);
    const n = run(['prune', '--sparsity', '0.5']);
    expect(n.code).toBe(1);
    expect(n.err).toMatch(/prune needs --method/);
  });

  test('generate runs on the built-in synthetic model and reports tokens/s', () => {
    const r = run(['generate', '--prompt', 'hi', '--max-tokens', '5', '--seed', '1', '--temperature', '1']);
    expect(r.code).toBe(0);
    expect(r.out.startsWith('hi')).toBe(true);
    expect(r.err).toMatch(/5 tokens in .* tokens\/s/);
  });

  testModel('generate streams the stories260K greedy story', () => {
    const r = run(['generate', '--model', bin, '--tokenizer', tok, '--max-tokens', '30', '--temperature', '0']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Once upon a time, there was a little girl named Lily\./);
  });

  testModel('prune --json reports the requested pattern on every layer, and perplexity before/after', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparsenn-cli-'));
    const text = path.join(dir, 'eval.txt');
    fs.writeFileSync(text, 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.');
    const r = run(['prune', '--model', bin, '--tokenizer', tok, '--prune', 'magnitude', '--pattern', '2:4', '--text', text, '--json']);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { prune: { layers: { sparsity: number }[] }; densePerplexity: { perplexity: number }; perplexity: { perplexity: number } };
    expect(j.prune.layers.length).toBe(35); // 5 layers x 7 linears
    for (const l of j.prune.layers) expect(l.sparsity).toBeCloseTo(0.5, 5);
    expect(j.perplexity.perplexity).toBeGreaterThan(j.densePerplexity.perplexity);
  });

  testModel('prune --out (the issue\'s spelling, wanda 2:4) writes a folder that generate --model reads, in the same sparse format', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparsenn-prune-out-'));
    try {
      const calib = path.join(dir, 'calib.txt');
      fs.writeFileSync(calib, CALIBRATION_STORIES.join('\n\n'));
      const out = path.join(dir, 'pruned');
      const args = ['--model', bin, '--tokenizer', tok, '--method', 'wanda', '--sparsity', '0.5', '--pattern', '2:4', '--calibration', calib];
      const p = run(['prune', ...args, '--out', out, '--storage', 'sparse']);
      expect(p.code).toBe(0);
      expect(p.out).toMatch(/pruned 35 layers with wanda \(2:4\)/);
      expect(p.out).toContain(`wrote ${out}`);
      for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) expect(fs.existsSync(path.join(out, f))).toBe(true);
      // The N:M components are in the file, not a dense copy.
      const st = fs.readFileSync(path.join(out, 'model.safetensors'));
      const header = st.subarray(8, 8 + Number(st.readBigUInt64LE(0))).toString('utf8');
      expect(header).toContain('model.layers.0.mlp.up_proj.weight.nm.meta');
      expect(header).not.toContain('"model.layers.0.mlp.up_proj.weight"');
      // Generating from the saved folder gives the text the pruned model gives in memory.
      const inMemory = run(['generate', ...args.map((x) => (x === '--method' ? '--prune' : x)), '--storage', 'sparse', '--max-tokens', '20', '--temperature', '0']);
      const saved = run(['generate', '--model', out, '--max-tokens', '20', '--temperature', '0']);
      expect(saved.code).toBe(0);
      expect(inMemory.code).toBe(0);
      expect(saved.out).toBe(inMemory.out);
      expect(saved.out.length).toBeGreaterThan(20);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  testModel('convert writes a Hugging Face folder that generates the same text', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sparsenn-hf-'));
    try {
      expect(run(['convert', '--model', bin, '--tokenizer', tok, '--out', out]).code).toBe(0);
      expect(fs.existsSync(path.join(out, 'model.safetensors'))).toBe(true);
      const a = run(['generate', '--model', bin, '--tokenizer', tok, '--max-tokens', '20', '--temperature', '0']);
      const b = run(['generate', '--model', out, '--max-tokens', '20', '--temperature', '0']);
      expect(b.code).toBe(0);
      expect(b.out).toBe(a.out);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
