/**
 * Installs the package exactly as a user would: `npm pack`, then `npm install <tarball>` into an empty project with
 * install scripts disabled and no compiler on PATH, and checks that the prebuilt CPU binary is the one used.
 * Needs `npm run build` first (dist/ and prebuilds/); CI runs it after the build.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '../..');
const built = fs.existsSync(path.join(root, 'dist/lib/index.js')) && fs.existsSync(path.join(root, 'prebuilds'));
// In CI a missing build is a failure, not a skip.
const run = built || process.env.CI ? test : test.skip;
if (!built && !process.env.CI) console.warn('pack test skipped: run `npm run build` first (needs dist/ and prebuilds/)');

run(
  'npm pack + install with --ignore-scripts and no compiler uses the prebuilt cpu binary',
  () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sparsenn-pack-'));
    try {
      const packJson = execFileSync('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: root, encoding: 'utf8' });
      const pack = JSON.parse(packJson.slice(packJson.indexOf('['))) as { filename: string; size: number; files: { path: string }[] }[];
      const info = pack[0]!;
      const files = info.files.map((f) => f.path);
      console.log(`npm pack: ${info.filename}, ${(info.size / 1024).toFixed(0)} KiB packed, ${files.length} files`);
      expect(files.some((f) => /^prebuilds\/linux-x64\/.*\.node$/.test(f))).toBe(process.platform === 'linux' && process.arch === 'x64');
      expect(files).toContain('dist/lib/index.js');
      expect(files).toContain('dist/lib/index.mjs');
      // Where the CUDA addon was built (nvcc present, as in CI), the tarball carries it beside, not among, the CPU prebuilds.
      if (fs.existsSync(path.join(root, 'prebuilds/cuda', `${process.platform}-${process.arch}`, 'sparsenn_cuda.node')))
        expect(files).toContain(`prebuilds/cuda/${process.platform}-${process.arch}/sparsenn_cuda.node`);
      expect(files.filter((f) => /^prebuilds\/[^/]+\/sparsenn_cuda/.test(f))).toEqual([]);
      expect(files.filter((f) => f.startsWith('test/') || f.startsWith('bench/results/') || f.startsWith('build/'))).toEqual([]);

      // A PATH holding only node and npm: no cc, c++, make, cmake, python.
      const bin = path.join(tmp, 'bin');
      fs.mkdirSync(bin);
      fs.symlinkSync(process.execPath, path.join(bin, 'node'));
      // The npm that runs this test (its real path, whatever wrapper PATH holds).
      const npmCli = fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
      fs.writeFileSync(path.join(bin, 'npm'), `#!/bin/sh\nexec "${process.execPath}" "${npmCli}" "$@"\n`, { mode: 0o755 });
      const env = { PATH: bin, HOME: process.env.HOME ?? tmp, npm_config_cache: process.env.npm_config_cache ?? path.join(os.homedir(), '.npm') };
      expect(() => execFileSync('sh', ['-c', 'command -v cc || command -v g++ || command -v make'], { env })).toThrow();

      const app = path.join(tmp, 'app');
      fs.mkdirSync(app);
      fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
      execFileSync(path.join(bin, 'npm'), ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', path.join(tmp, info.filename)], {
        cwd: app,
        env,
        stdio: 'pipe',
      });
      const cjs = execFileSync(path.join(bin, 'node'), ['-e', "const s=require('sparsenn');const i=s.backendInfo();const y=s.matmul(s.Tensor.random([2,8]),s.Tensor.random([3,8],2));console.log(JSON.stringify({i,n:y.data.length}))"], { cwd: app, env, encoding: 'utf8' });
      const r = JSON.parse(cjs) as { i: { backend: string; simd: string }; n: number };
      expect(r.i.backend).toBe('cpu');
      expect(r.n).toBe(6);
      const esm = execFileSync(path.join(bin, 'node'), ['--input-type=module', '-e', "import { backendInfo } from 'sparsenn'; console.log(backendInfo().backend)"], { cwd: app, env, encoding: 'utf8' });
      expect(esm.trim()).toBe('cpu');
      // Server code generating text with the installed package (the built-in synthetic model, and the real one when present).
      const story = path.resolve(root, '../shared/models/stories260K');
      const gen = execFileSync(
        path.join(bin, 'node'),
        [
          '-e',
          `const s = require('sparsenn');
           (async () => {
             const synth = await s.syntheticModel({ dim: 32, layers: 1 }).complete('hi', { maxTokens: 4, seed: 1, temperature: 1 });
             const fs = require('fs');
             let story = null;
             if (fs.existsSync(${JSON.stringify(story)})) {
               const m = await s.loadModel(${JSON.stringify(path.join(story, 'stories260K.bin'))}, { tokenizer: ${JSON.stringify(path.join(story, 'tok512.bin'))} });
               story = await m.complete('', { maxTokens: 12, temperature: 0 });
             }
             console.log(JSON.stringify({ synth, story }));
           })().catch((e) => { console.error(e); process.exit(1); });`,
        ],
        { cwd: app, env, encoding: 'utf8' },
      );
      const g = JSON.parse(gen) as { synth: string; story: string | null };
      expect(g.synth.length).toBeGreaterThan(0);
      if (g.story !== null) expect(g.story).toMatch(/^Once upon a time/);
      const doctor = execFileSync(path.join(app, 'node_modules/.bin/sparsenn'), ['doctor', '--json'], { cwd: app, env, encoding: 'utf8' });
      expect(JSON.parse(doctor)).toMatchObject({ backend: 'cpu' });
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
  180000,
);
