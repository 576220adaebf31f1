/** backendInfo(): which backend 'auto' uses, the SIMD level, threads, and why CUDA is or is not used. */
import { cpuBackend, cudaStatus } from './backend/select';
import { nativeBinding, nativeLoadError } from './backend/native';
import type { BackendName } from './backend/types';
import { SparsennError } from './errors';

export interface BackendInfo {
  backend: BackendName;
  simd: 'avx512' | 'avx2' | 'neon' | 'scalar' | 'none';
  threads: number;
  /** Whether the CUDA backend is usable; `device` names the GPU when it is, `reason` says why not otherwise. */
  cuda: { available: boolean; reason?: string; device?: string };
  /** Why the native CPU addon is not used, when it is not. */
  nativeError?: string;
}

export function backendInfo(): BackendInfo {
  const cuda = cudaStatus();
  const b = cpuBackend() ? nativeBinding() : undefined;
  if (!b) {
    const err = nativeLoadError();
    return { backend: 'js', simd: 'none', threads: 1, cuda, ...(err ? { nativeError: err } : {}) };
  }
  const i = b.info();
  return { backend: cuda.available ? 'cuda' : 'cpu', simd: i.simd, threads: i.threads, cuda };
}

/** Sets the native thread-pool size (also settable with SPARSENN_THREADS). Returns the new size. */
export function setThreads(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 1024)
    throw new SparsennError('ERR_ARG', `setThreads: n must be an integer in [1, 1024], got ${String(n)}`);
  const b = nativeBinding();
  return b ? b.setThreads(n) : 1;
}
