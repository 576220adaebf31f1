/**
 * Safe loading of the CUDA addon: tried only with a driver, trusted only after a child-process
 * self-test, and every reason for not using CUDA is reported. The probe is exercised with fake
 * environments (driver present, no addon / a corrupt addon / an addon that crashes its process /
 * one whose self-test fails / one that passes) and, on this machine, for real.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { backendInfo, matmul, Tensor } from '../../lib/index';
import { defaultProbeEnv, driverMissingReason, probeCuda, selfTestInChild, type CudaProbeEnv } from '../../lib/backend/cuda';
import { SparsennError } from '../../lib/errors';

const hasDriver = driverMissingReason(defaultProbeEnv()) === undefined;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sparsenn-cuda-probe-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function fakeEnv(over: Partial<CudaProbeEnv>): CudaProbeEnv {
  return {
    platform: 'linux',
    env: {},
    exists: (p) => p === '/proc/driver/nvidia' || fs.existsSync(p),
    addonCandidates: [],
    timeoutMs: 30_000,
    ...over,
  };
}

/** A fake "addon" as a JS module: the child require()s it like the real .node file. */
function fakeAddon(name: string, body: string): string {
  const p = path.join(tmp, `${name}.js`);
  fs.writeFileSync(p, body);
  return p;
}

const FAKE_INFO = `{ name: 'Fake GPU', major: 9, minor: 0, totalMemory: 150e9, smCount: 132, driverVersion: 13000, runtimeVersion: 13000, count: 1 }`;

describe('CUDA status on this machine', () => {
  (hasDriver ? test.skip : test)('without a driver: unavailable, and says so', () => {
    const info = backendInfo();
    expect(info.cuda.available).toBe(false);
    expect(info.cuda.reason).toMatch(/^no NVIDIA driver found/);
    expect(info.backend).not.toBe('cuda');
  });

  (hasDriver ? test.skip : test)("backend: 'cuda' throws ERR_BACKEND with the reason", () => {
    const x = Tensor.random([2, 5], 1);
    const w = Tensor.random([3, 5], 2);
    let err: unknown;
    try {
      matmul(x, w, { backend: 'cuda' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SparsennError);
    expect((err as SparsennError).code).toBe('ERR_BACKEND');
    expect((err as Error).message).toMatch(/CUDA is not available: no NVIDIA driver found/);
  });

  (hasDriver ? test : test.skip)('with a driver: available, or a precise reason', () => {
    const c = backendInfo().cuda;
    if (c.available) expect(typeof (c as { device?: string }).device).toBe('string');
    else expect(c.reason).toMatch(/^(CUDA addon not built|self-test failed)/);
  });
});

describe('probe decisions', () => {
  test('no driver on linux, other platforms, and the off switch', () => {
    expect(probeCuda(fakeEnv({ exists: () => false })).reason).toMatch(/^no NVIDIA driver found/);
    expect(probeCuda(fakeEnv({ platform: 'darwin' })).reason).toBe('CUDA is not supported on darwin');
    expect(probeCuda(fakeEnv({ platform: 'win32', exists: () => false })).reason).toMatch(/nvcuda\.dll/);
    expect(probeCuda(fakeEnv({ env: { SPARSENN_CUDA: '0' } })).reason).toBe('disabled by SPARSENN_CUDA=0');
  });

  test('libcuda.so.1 on LD_LIBRARY_PATH counts as a driver', () => {
    const e = fakeEnv({ env: { LD_LIBRARY_PATH: '/opt/drv' }, exists: (p) => p === '/opt/drv/libcuda.so.1' });
    expect(driverMissingReason(e)).toBeUndefined();
  });

  test('driver present but no addon file: "CUDA addon not built"', () => {
    const s = probeCuda(fakeEnv({ addonCandidates: [path.join(tmp, 'missing.node')] }));
    expect(s.available).toBe(false);
    expect(s.reason).toMatch(/^CUDA addon not built .*npm run build:cuda/);
  });

  test('a corrupt addon fails in the child, not here', () => {
    const bad = path.join(tmp, 'corrupt.node');
    fs.writeFileSync(bad, 'this is not a shared library');
    const s = probeCuda(fakeEnv({ addonCandidates: [bad] }));
    expect(s.available).toBe(false);
    expect(s.reason).toMatch(/^self-test failed: /);
  });

  test('an addon that crashes its process is reported, and this process lives on', () => {
    const crash = fakeAddon('crash', `process.kill(process.pid, 'SIGSEGV');`);
    const s = probeCuda(fakeEnv({ addonCandidates: [crash] }));
    expect(s.available).toBe(false);
    expect(s.reason).toMatch(/^self-test failed: child (killed by SIGSEGV|exited with code)/);
  });

  test('a kernel mismatch in the self-test is reported with the device', () => {
    const wrong = fakeAddon('wrong', `exports.deviceInfo = () => (${FAKE_INFO}); exports.selfTest = () => '2:4 sparse tensor-core matmul: relative error 0.5';`);
    const s = probeCuda(fakeEnv({ addonCandidates: [wrong] }));
    expect(s.available).toBe(false);
    expect(s.reason).toBe('self-test failed on Fake GPU (sm_90, 139.7 GiB): 2:4 sparse tensor-core matmul: relative error 0.5');
  });

  test('a hanging child is stopped by the timeout', () => {
    const hang = fakeAddon('hang', `for (;;) {}`);
    const s = probeCuda(fakeEnv({ addonCandidates: [hang], timeoutMs: 1500 }));
    expect(s.available).toBe(false);
    expect(s.reason).toMatch(/^self-test failed: /);
  });

  test('a passing self-test makes CUDA available, naming the device', () => {
    const good = fakeAddon('good', `exports.deviceInfo = () => (${FAKE_INFO}); exports.selfTest = () => '';`);
    const s = probeCuda(fakeEnv({ addonCandidates: [path.join(tmp, 'missing.node'), good] }));
    expect(s).toEqual({ available: true, device: 'Fake GPU (sm_90, 139.7 GiB)', addon: good });
  });
});

// The real addon, when `npm run build:cuda` has built it (CI does whenever nvcc exists).
const realAddon = path.resolve(__dirname, '../../build-cuda/Release/sparsenn_cuda.node');
const built = fs.existsSync(realAddon);
(built && !hasDriver ? describe : describe.skip)('the built CUDA addon on a machine without a GPU', () => {
  test('its child self-test reports the missing driver', () => {
    const r = selfTestInChild(realAddon, 30_000);
    expect(r).toEqual({ reason: expect.stringMatching(/^self-test failed: no NVIDIA driver found|^self-test failed: no CUDA device/) });
  });

  test('loaded here it throws coded errors instead of crashing', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const a = require(realAddon) as import('../../lib/backend/binding').CudaBinding;
    expect(() => a.deviceInfo()).toThrow(expect.objectContaining({ code: 'ERR_BACKEND' }));
    expect(a.selfTest()).toMatch(/no NVIDIA driver found|no CUDA device/);
    // Argument checks come before any device call.
    expect(() => a.uploadDense(new Float32Array(5), 2, 2, 3)).toThrow(expect.objectContaining({ code: 'ERR_DTYPE' }));
    expect(() => a.uploadDense(new Uint16Array(5), 2, 2, 3)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => a.uploadNm(new Uint16Array(4), new Uint8Array(4), 3, 2, 2, 1, 4)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => a.uploadNm(new Uint16Array(2), new Uint8Array(2), 2, 4, 2, 1, 4)).toThrow(expect.objectContaining({ code: 'ERR_BACKEND' }));
    expect(() => a.uploadNm(new Uint16Array([1, 1]), new Uint8Array([2, 2]), 2, 4, 2, 1, 4)).toThrow(expect.objectContaining({ code: 'ERR_FORMAT' }));
    expect(() => a.uploadCsr(new Uint32Array([0, 1]), new Uint16Array([7]), new Uint16Array([1]), 2, 1, 4)).toThrow(expect.objectContaining({ code: 'ERR_FORMAT' }));
    // BSR: block shape, index type, lengths and block columns are checked before any device call.
    const rp = new Uint32Array([0, 1]);
    expect(() => a.uploadBsr(rp, new Uint16Array([0]), new Float32Array(4), 0, 2, 4, 0, 2)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => a.uploadBsr(rp, new Uint16Array([0]), new Float32Array(8192), 0, 2, 4, 128, 64)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => a.uploadBsr(rp, new Int32Array([0]) as never, new Float32Array(4), 0, 2, 4, 2, 2)).toThrow(expect.objectContaining({ code: 'ERR_DTYPE' }));
    expect(() => a.uploadBsr(rp, new Uint16Array([0]), new Float32Array(3), 0, 2, 4, 2, 2)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => a.uploadBsr(rp, new Uint16Array([2]), new Float32Array(4), 0, 2, 4, 2, 2)).toThrow(expect.objectContaining({ code: 'ERR_FORMAT' }));
    expect(() => a.uploadBsr(new Uint32Array([1, 1]), new Uint16Array([0]), new Float32Array(4), 0, 2, 4, 2, 2)).toThrow(expect.objectContaining({ code: 'ERR_FORMAT' }));
    expect(() => a.matmul({} as never, new Float32Array(1), 1, new Float32Array(1))).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  });
});

test('the real-addon checks ran or say why not', () => {
  if (!built) console.warn('CUDA addon not built (npm run build:cuda needs nvcc): real-addon loading checks skipped');
  expect(true).toBe(true);
});
