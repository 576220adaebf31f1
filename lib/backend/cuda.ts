/**
 * The optional CUDA backend. The CUDA addon (sparsenn_cuda.node, built by `npm run build:cuda`
 * into build-cuda/Release/, or shipped in prebuilds/cuda/<platform>-<arch>/) is a separate file so
 * the CPU addon always loads. It is tried only when an NVIDIA driver is present, and trusted
 * only after a CHILD process has loaded it and run its self-test (every kernel against a CPU
 * result on a tiny random case): a broken build, a driver mismatch or a crashing kernel kills
 * the child, never this process (node-llama-cpp tests its GPU binaries the same way).
 * cudaStatus() says which device was found or exactly why CUDA is not used.
 *
 * Environment: SPARSENN_CUDA=0 disables CUDA; SPARSENN_CUDA_ADDON=<path> picks the addon file.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DTYPE_CODE } from '../dtype';
import { fromNativeError } from '../errors';
import type { BsrMatrix } from '../formats/bsr';
import type { CsrMatrix } from '../formats/csr';
import type { NmMatrix } from '../formats/nm';
import type { Tensor } from '../tensor';
import type { CudaBinding, CudaDeviceInfo, CudaWeightHandle } from './binding';
import type { Backend } from './types';

/** Package root: this file is dist/lib/backend/cuda.js (or lib/backend/cuda.ts under ts-jest). */
const PACKAGE_ROOT = path.resolve(__dirname, __filename.endsWith('.ts') ? '../..' : '../../..');

export interface CudaStatus {
  available: boolean;
  /** Why CUDA is not used (when available is false). */
  reason?: string;
  /** The device the self-test ran on, e.g. "NVIDIA H200 (sm_90, 139.8 GiB)". */
  device?: string;
}

/** What the probe may look at; tests replace parts of it. */
export interface CudaProbeEnv {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** Returns true when the path exists. */
  exists(p: string): boolean;
  /** Candidate addon files, in order of preference. */
  addonCandidates: string[];
  /** Milliseconds the child self-test may take. */
  timeoutMs: number;
}

export function defaultProbeEnv(): CudaProbeEnv {
  const candidates = [
    process.env.SPARSENN_CUDA_ADDON,
    path.join(PACKAGE_ROOT, 'build-cuda', 'Release', 'sparsenn_cuda.node'),
    path.join(PACKAGE_ROOT, 'prebuilds', 'cuda', `${process.platform}-${process.arch}`, 'sparsenn_cuda.node'),
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  return { platform: process.platform, env: process.env, exists: (p) => fs.existsSync(p), addonCandidates: candidates, timeoutMs: 60_000 };
}

/** Where the driver library usually lives (Linux distributions, CUDA compat, WSL). */
const LIBCUDA_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/cuda/compat', '/usr/lib/wsl/lib'];

/** undefined when an NVIDIA driver looks present, else why not. */
export function driverMissingReason(e: CudaProbeEnv): string | undefined {
  if (e.platform === 'win32') {
    const sys = path.join(e.env.SystemRoot ?? 'C:\\Windows', 'System32', 'nvcuda.dll');
    return e.exists(sys) ? undefined : 'no NVIDIA driver found (no nvcuda.dll)';
  }
  if (e.platform !== 'linux') return `CUDA is not supported on ${e.platform}`;
  if (e.exists('/proc/driver/nvidia')) return undefined;
  const dirs = [...(e.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIBCUDA_DIRS];
  if (dirs.some((d) => e.exists(path.join(d, 'libcuda.so.1')))) return undefined;
  return 'no NVIDIA driver found (no /proc/driver/nvidia and no libcuda.so.1)';
}

interface ChildReport {
  info?: CudaDeviceInfo;
  selfTest?: string;
  error?: string;
}

// Runs in the child: load the addon, query the device, run the self-test, print one JSON line.
const CHILD_SCRIPT = `
const out = {};
try {
  const a = require(process.argv[1]);
  out.info = a.deviceInfo();
  out.selfTest = a.selfTest();
} catch (e) { out.error = String(e && e.message || e).split('\\n')[0]; }
process.stdout.write('\\nSPARSENN_CUDA_PROBE ' + JSON.stringify(out) + '\\n');
`;

function describeDevice(i: CudaDeviceInfo): string {
  return `${i.name} (sm_${i.major}${i.minor}, ${(i.totalMemory / 2 ** 30).toFixed(1)} GiB)`;
}

/** Loads `addon` in a child process and runs its self-test; returns the device or why it failed. */
export function selfTestInChild(addon: string, timeoutMs: number): { device: string } | { reason: string } {
  const r = spawnSync(process.execPath, ['-e', CHILD_SCRIPT, addon], { encoding: 'utf8', timeout: timeoutMs, windowsHide: true });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('SPARSENN_CUDA_PROBE '));
  if (!line) {
    const how = r.error
      ? r.error.message
      : r.signal
        ? `child killed by ${r.signal}`
        : `child exited with code ${String(r.status)}`;
    const err = (r.stderr ?? '').trim().split('\n')[0];
    return { reason: `self-test failed: ${how}${err ? `: ${err}` : ''}` };
  }
  let rep: ChildReport;
  try {
    rep = JSON.parse(line.slice('SPARSENN_CUDA_PROBE '.length)) as ChildReport;
  } catch {
    return { reason: 'self-test failed: unreadable report from the child process' };
  }
  if (rep.error !== undefined) return { reason: `self-test failed: ${rep.error}` };
  if (!rep.info) return { reason: 'self-test failed: no device information' };
  if (rep.selfTest !== '') return { reason: `self-test failed on ${describeDevice(rep.info)}: ${String(rep.selfTest)}` };
  return { device: describeDevice(rep.info) };
}

/** The whole decision, without side effects on this process (no addon is loaded here). */
export function probeCuda(e: CudaProbeEnv): CudaStatus & { addon?: string } {
  if (e.env.SPARSENN_CUDA === '0') return { available: false, reason: 'disabled by SPARSENN_CUDA=0' };
  if (e.env.SPARSENN_BACKEND === 'js') return { available: false, reason: 'SPARSENN_BACKEND=js: native addons not loaded on request' };
  const noDriver = driverMissingReason(e);
  if (noDriver) return { available: false, reason: noDriver };
  const addon = e.addonCandidates.find((p) => e.exists(p));
  if (!addon)
    return {
      available: false,
      reason: `CUDA addon not built (looked for ${e.addonCandidates.join(', ')}; build it with npm run build:cuda, which needs nvcc)`,
    };
  const t = selfTestInChild(addon, e.timeoutMs);
  if ('reason' in t) return { available: false, reason: t.reason };
  return { available: true, device: t.device, addon };
}

let status: (CudaStatus & { addon?: string }) | undefined;
let binding: CudaBinding | undefined;

/** Probed once per process (the child self-test costs a fraction of a second, only with a driver). */
export function cudaProbeStatus(): CudaStatus {
  if (!status) {
    status = probeCuda(defaultProbeEnv());
    if (status.available && status.addon) {
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        binding = require(status.addon) as CudaBinding;
      } catch (err) {
        status = { available: false, reason: `CUDA addon failed to load after its self-test: ${(err as Error).message.split('\n')[0]!}` };
      }
    }
  }
  const { available, reason, device } = status;
  return { available, ...(reason !== undefined ? { reason } : {}), ...(device !== undefined ? { device } : {}) };
}

/** The loaded CUDA addon, or undefined (see cudaProbeStatus().reason). */
export function cudaBinding(): CudaBinding | undefined {
  cudaProbeStatus();
  return binding;
}

// ---- weights -------------------------------------------------------------------------------

/** One position byte per stored value (the addon's N:M input), unpacked from the bit stream. */
export function nmPositions(w: NmMatrix): Uint8Array {
  const [N] = w.shape;
  const perRow = w.groups * w.n;
  const out = new Uint8Array(N * perRow);
  for (let r = 0; r < N; r++) for (let i = 0; i < perRow; i++) out[r * perRow + i] = w.position(r, i);
  return out;
}

/** An N:M weight the sparse tensor cores cannot take (f32 values, or a pattern that is not 2:4) as CSR arrays. */
export function nmAsCsr(w: NmMatrix): { rowPtr: Uint32Array; colIdx: Uint16Array | Uint32Array; values: Float32Array | Uint16Array } {
  const [N, K] = w.shape;
  const perRow = w.groups * w.n;
  const isZero = w.dtype === 'f32' ? (v: number) => v === 0 : (v: number) => (v & 0x7fff) === 0;
  const rowPtr = new Uint32Array(N + 1);
  const cols: number[] = [];
  const vals: number[] = [];
  for (let r = 0; r < N; r++) {
    const entries: [number, number][] = [];
    for (let i = 0; i < perRow; i++) {
      const v = w.values[r * perRow + i]!;
      if (!isZero(v)) entries.push([Math.floor(i / w.n) * w.m + w.position(r, i), v]);
    }
    entries.sort((a, b) => a[0] - b[0]);
    for (const [c, v] of entries) {
      cols.push(c);
      vals.push(v);
    }
    rowPtr[r + 1] = cols.length;
  }
  return {
    rowPtr,
    colIdx: K <= 65536 ? Uint16Array.from(cols) : Uint32Array.from(cols),
    values: w.dtype === 'f32' ? Float32Array.from(vals) : Uint16Array.from(vals),
  };
}

/** Weights the CUDA addon takes: dense tensors, CSR, BSR and N:M matrices. */
export type CudaWeightSource = Tensor | CsrMatrix | BsrMatrix | NmMatrix;

/** Uploads a weight to GPU memory once; the handle's dispose() frees it deterministically. */
export function uploadCudaWeight(b: CudaBinding, w: CudaWeightSource): CudaWeightHandle {
  try {
    if ('format' in w && w.format === 'csr') return b.uploadCsr(w.rowPtr, w.colIdx, w.values, DTYPE_CODE[w.dtype], w.shape[0], w.shape[1]);
    if ('format' in w && w.format === 'bsr')
      return b.uploadBsr(w.blockRowPtr, w.blockCol, w.values, DTYPE_CODE[w.dtype], w.shape[0], w.shape[1], w.block[0], w.block[1]);
    if ('format' in w && w.format === 'nm') {
      // Any N:M with at most 2 nonzeros in every aligned group of 4 fits the sparse tensor cores
      // (2:4, 1:4, 1:2, and 2:8 / 4:8 weights that happen to); the addon checks and says ERR_PATTERN.
      if (w.dtype !== 'f32')
        try {
          return b.uploadNm(w.values as Uint16Array, nmPositions(w), w.n, w.m, DTYPE_CODE[w.dtype], w.shape[0], w.shape[1]);
        } catch (e) {
          if ((e as { code?: string }).code !== 'ERR_PATTERN') throw e;
        }
      // Not expressible as 2:4 on the tensor cores (or f32): the row-wise CSR kernel is exact.
      const c = nmAsCsr(w);
      return b.uploadCsr(c.rowPtr, c.colIdx, c.values, DTYPE_CODE[w.dtype], w.shape[0], w.shape[1]);
    }
    const t = w as Tensor;
    return b.uploadDense(t.data as Float32Array | Uint16Array, DTYPE_CODE[t.dtype], t.shape[0]!, t.shape[1]!);
  } catch (e) {
    throw fromNativeError(e);
  }
}

function runSync(b: CudaBinding, w: CudaWeightSource, x: Tensor, y: Float32Array): void {
  const h = uploadCudaWeight(b, w);
  try {
    b.matmul(h, x.data as Float32Array, x.shape[0]!, y);
  } catch (e) {
    throw fromNativeError(e);
  } finally {
    h.dispose();
  }
}

async function runAsync(b: CudaBinding, w: CudaWeightSource, x: Tensor, y: Float32Array): Promise<void> {
  const h = uploadCudaWeight(b, w);
  try {
    await b.matmulAsync(h, x.data as Float32Array, x.shape[0]!, y);
  } catch (e) {
    throw fromNativeError(e);
  } finally {
    h.dispose();
  }
}

/**
 * The cuda Backend: dense, CSR, BSR and N:M matmul run on the GPU; every other op is served by
 * `fallback` (the CPU backend). Weights passed per call are uploaded, used and freed within
 * the call (correct, but the transfer dominates small ops); resident weights for whole models
 * go through uploadCudaWeight() once.
 */
export function createCudaBackend(b: CudaBinding, fallback: Backend): Backend {
  return {
    ...fallback,
    name: 'cuda',
    matmul: (x, w, y) => runSync(b, w, x, y),
    matmulAsync: (x, w, y) => runAsync(b, w, x, y),
    matmulCsr: (x, w, y) => runSync(b, w, x, y),
    matmulCsrAsync: (x, w, y) => runAsync(b, w, x, y),
    matmulBsr: (x, w, y) => runSync(b, w, x, y),
    matmulBsrAsync: (x, w, y) => runAsync(b, w, x, y),
    matmulNm: (x, w, y) => runSync(b, w, x, y),
    matmulNmAsync: (x, w, y) => runAsync(b, w, x, y),
  };
}
