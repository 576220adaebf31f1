/**
 * The addon is opened with every symbol resolved at load (RTLD_NOW): a binary with an unresolved
 * symbol (a half-finished or mismatched build) must throw at load, where the js fallback takes
 * over, instead of loading and killing the process at its first call. The broken addon is built
 * here from a few lines of C; the test skips when no C compiler or N-API header is present.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openAddon } from '../../lib/backend/native';

const HEADERS = [path.resolve(__dirname, '../../node_modules/node-api-headers/include'), '/usr/include/node'].find((d) =>
  fs.existsSync(path.join(d, 'node_api.h')),
);
const CC = ['cc', 'gcc', 'clang'].find((c) => {
  try {
    execFileSync(c, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});

const SOURCE = `
#include <node_api.h>
extern int sparsenn_symbol_that_does_not_exist(void);
static napi_value Call(napi_env env, napi_callback_info info) {
  napi_value out;
  napi_create_int32(env, sparsenn_symbol_that_does_not_exist(), &out);
  return out;
}
NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "call", NAPI_AUTO_LENGTH, Call, NULL, &fn);
  napi_set_named_property(env, exports, "call", fn);
  return exports;
}
`;

const maybe = HEADERS && CC && process.platform === 'linux' ? describe : describe.skip;
if (!(HEADERS && CC && process.platform === 'linux'))
  console.log('native_load: skipped (needs Linux, a C compiler and node_api.h to build the broken addon)');

maybe('opening the addon', () => {
  let dir = '';
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparsenn-unresolved-'));
    fs.mkdirSync(path.join(dir, 'build/Release'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'broken.c'), SOURCE);
    execFileSync(CC!, ['-shared', '-fPIC', '-I', HEADERS!, '-o', path.join(dir, 'build/Release/sparsenn.node'), path.join(dir, 'broken.c')]);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('an addon with an unresolved symbol throws at load, naming the symbol', () => {
    expect(() => openAddon(dir)).toThrow(/sparsenn_symbol_that_does_not_exist/);
  });

  test('the real addon opens and has its functions', () => {
    const root = path.resolve(__dirname, '../..');
    const b = openAddon(root) as Record<string, unknown>;
    expect(typeof b.matmulDense).toBe('function');
  });
});
