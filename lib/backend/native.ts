/**
 * Loads the CPU addon: a prebuilt binary from prebuilds/<platform>-<arch>/ (or a
 * local build in build/Release) through node-gyp-build. When none loads, the
 * library keeps working on the js backend and says once how to get the native one.
 */
import * as os from 'os';
import * as path from 'path';
import { DTYPE_CODE } from '../dtype';
import { fromNativeError } from '../errors';
import { decodeArgs, groupScoresArgs, prefillArgs } from './attention_native';
import { labelSelectArgs, labelSelectDecodeArgs, labelUpdateArgs, questPageBoundsArgs, questSelectArgs, questSelectDecodeArgs } from './attention_select_native';
import { NATIVE_FUNCTIONS, type NativeBinding } from './binding';
import type { Backend } from './types';

/** Package root: this file is dist/lib/backend/native.js (or lib/backend/native.ts under ts-jest). */
const PACKAGE_ROOT = path.resolve(__dirname, __filename.endsWith('.ts') ? '../..' : '../../..');

let loaded: { binding: NativeBinding } | { error: string } | undefined;
let warned = false;

/**
 * Opens the addon node-gyp-build picks under `dir` with every symbol resolved now (RTLD_NOW).
 * Node opens addons lazily by default: a half-built or mismatched binary with an unresolved
 * symbol would load, then kill the process at its first call (a "symbol lookup error", which no
 * catch sees). Resolved up front, it throws here and the js backend takes over.
 */
export function openAddon(dir: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
  const file = nodeGypBuild.path(dir);
  const flags = os.constants.dlopen?.RTLD_NOW; // undefined on Windows, which resolves at load anyway
  const mod = { exports: {} as unknown };
  if (flags === undefined) process.dlopen(mod, file);
  else process.dlopen(mod, file, flags);
  return mod.exports;
}

function load(): { binding: NativeBinding } | { error: string } {
  if (loaded) return loaded;
  if (process.env.SPARSENN_BACKEND === 'js') {
    loaded = { error: 'SPARSENN_BACKEND=js: native addon not loaded on request' };
    return loaded;
  }
  try {
    // SPARSENN_NATIVE_DIR: look for the addon (build/Release or prebuilds/) under another folder.
    const binding = openAddon(process.env.SPARSENN_NATIVE_DIR || PACKAGE_ROOT) as NativeBinding;
    const missing = NATIVE_FUNCTIONS.filter((f) => typeof binding[f] !== 'function');
    if (missing.length > 0)
      throw new Error(`the addon lacks ${missing.join(', ')} (a stale build? rebuild with npx sparsenn build)`);
    const threads = Number(process.env.SPARSENN_THREADS);
    if (Number.isInteger(threads) && threads >= 1) binding.setThreads(threads);
    loaded = { binding };
  } catch (e) {
    loaded = { error: (e as Error).message.split('\n')[0]! };
  }
  return loaded;
}

/** The native binding, or undefined when it could not be loaded (the reason is in nativeLoadError()). */
export function nativeBinding(): NativeBinding | undefined {
  const l = load();
  if ('binding' in l) return l.binding;
  if (!warned && process.env.SPARSENN_BACKEND !== 'js') {
    warned = true;
    process.emitWarning(
      `sparsenn: no native binary for ${process.platform}-${process.arch} (node ${process.versions.node}) could be loaded ` +
        `(${l.error}); using the slower pure-TypeScript backend. To build one from source: npx sparsenn build ` +
        '(needs a C++17 compiler and cmake).',
      { code: 'SPARSENN_NO_NATIVE' },
    );
  }
  return undefined;
}

export function nativeLoadError(): string | undefined {
  const l = load();
  return 'error' in l ? l.error : undefined;
}

function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw fromNativeError(e);
  }
}

/** The async form of wrap: a native rejection becomes a SparsennError. */
async function wrapAsync<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    throw fromNativeError(e);
  }
}

export function createCpuBackend(b: NativeBinding): Backend {
  return {
    name: 'cpu',
    matmul(x, w, y) {
      wrap(() => b.matmulDense(x.data as Float32Array, x.shape[0]!, x.shape[1]!, w.data, DTYPE_CODE[w.dtype], w.shape[0]!, y));
    },
    async matmulAsync(x, w, y) {
      await wrapAsync(() => b.matmulDenseAsync(x.data as Float32Array, x.shape[0]!, x.shape[1]!, w.data, DTYPE_CODE[w.dtype], w.shape[0]!, y));
    },
    matmulCsr(x, w, y) {
      const [M, K] = x.shape as [number, number];
      wrap(() => b.matmulCsr(x.data as Float32Array, M, K, w.rowPtr, w.colIdx, w.values, DTYPE_CODE[w.dtype], w.shape[0], y));
    },
    async matmulCsrAsync(x, w, y) {
      const [M, K] = x.shape as [number, number];
      await wrapAsync(() => b.matmulCsrAsync(x.data as Float32Array, M, K, w.rowPtr, w.colIdx, w.values, DTYPE_CODE[w.dtype], w.shape[0], y));
    },
    matmulBsr(x, w, y) {
      const [M, K] = x.shape as [number, number];
      const [br, bc] = w.block;
      wrap(() =>
        b.matmulBsr(x.data as Float32Array, M, K, w.blockRowPtr, w.blockCol, w.values, DTYPE_CODE[w.dtype], w.shape[0], br, bc, y),
      );
    },
    async matmulBsrAsync(x, w, y) {
      const [M, K] = x.shape as [number, number];
      const [br, bc] = w.block;
      await wrapAsync(() => b.matmulBsrAsync(x.data as Float32Array, M, K, w.blockRowPtr, w.blockCol, w.values, DTYPE_CODE[w.dtype], w.shape[0], br, bc, y));
    },
    attentionDecode(a) {
      wrap(() => b.attentionDecode(...decodeArgs(a)));
    },
    async attentionDecodeAsync(a) {
      await wrapAsync(() => b.attentionDecodeAsync(...decodeArgs(a)));
    },
    attentionTopK(a) {
      wrap(() => b.attentionTopK(a.scores, a.rows, a.n, a.k, a.out));
    },
    attentionGroupScores(a) {
      wrap(() => b.attentionGroupScores(...groupScoresArgs(a)));
    },
    attentionQuestPageBounds(a) {
      wrap(() => b.attentionQuestPageBounds(...questPageBoundsArgs(a)));
    },
    attentionQuestSelect(a) {
      wrap(() => b.attentionQuestSelect(...questSelectArgs(a)));
    },
    attentionLabelUpdate(a) {
      wrap(() => b.attentionLabelUpdate(...labelUpdateArgs(a)));
    },
    attentionLabelSelect(a) {
      wrap(() => b.attentionLabelSelect(...labelSelectArgs(a)));
    },
    attentionQuestSelectDecode(a) {
      wrap(() => b.attentionQuestSelectDecode(...questSelectDecodeArgs(a)));
    },
    attentionLabelSelectDecode(a) {
      wrap(() => b.attentionLabelSelectDecode(...labelSelectDecodeArgs(a)));
    },
    attentionPrefill(a) {
      wrap(() => b.attentionPrefill(...prefillArgs(a)));
    },
    async attentionPrefillAsync(a) {
      await wrapAsync(() => b.attentionPrefillAsync(...prefillArgs(a)));
    },
    choleskyInverseUpper(h, k, u) {
      return wrap(() => b.choleskyInverseUpper(h, k, u));
    },
    async choleskyInverseUpperAsync(h, k, u) {
      await wrapAsync(() => b.choleskyInverseUpperAsync(h, k, u));
      return k > 0 && Number.isNaN(u[0]) ? (k > 1 ? u[1]! : 1) : 0;
    },
    sparsegptSweep(w, rows, cols, u, mask, p) {
      wrap(() => b.sparsegptSweep(w, rows, cols, u, mask, p.n, p.m, p.blockSize, p.pruneCounts));
    },
    async sparsegptSweepAsync(w, rows, cols, u, mask, p) {
      await wrapAsync(() => b.sparsegptSweepAsync(w, rows, cols, u, mask, p.n, p.m, p.blockSize, p.pruneCounts));
    },
    matmulNm(x, w, y) {
      const [M, K] = x.shape as [number, number];
      wrap(() => b.matmulNm(x.data as Float32Array, M, K, w.values, DTYPE_CODE[w.dtype], w.meta, w.shape[0], w.n, w.m, y));
    },
    async matmulNmAsync(x, w, y) {
      const [M, K] = x.shape as [number, number];
      await wrapAsync(() => b.matmulNmAsync(x.data as Float32Array, M, K, w.values, DTYPE_CODE[w.dtype], w.meta, w.shape[0], w.n, w.m, y));
    },
    matmulInputSparse(x, wt, y) {
      const [M, K] = x.shape as [number, number];
      wrap(() => b.matmulInputSparse(x.data as Float32Array, M, K, wt.data, DTYPE_CODE[wt.dtype], wt.shape[1]!, y));
    },
    async matmulInputSparseAsync(x, wt, y) {
      const [M, K] = x.shape as [number, number];
      await wrapAsync(() => b.matmulInputSparseAsync(x.data as Float32Array, M, K, wt.data, DTYPE_CODE[wt.dtype], wt.shape[1]!, y));
    },
    matmulBitmap(x, w, y) {
      const [M, K] = x.shape as [number, number];
      wrap(() => b.matmulBitmap(x.data as Float32Array, M, K, w.masks, w.rowPtr, w.values, DTYPE_CODE[w.dtype], w.shape[0], y));
    },
    async matmulBitmapAsync(x, w, y) {
      const [M, K] = x.shape as [number, number];
      await wrapAsync(() => b.matmulBitmapAsync(x.data as Float32Array, M, K, w.masks, w.rowPtr, w.values, DTYPE_CODE[w.dtype], w.shape[0], y));
    },
  };
}
