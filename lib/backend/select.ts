/**
 * Backend selection. 'auto' prefers cuda (when its addon loads and passes a
 * self-test), then cpu (the native addon), then js; backendInfo() says which.
 */
import { SparsennError } from '../errors';
import { jsBackend } from './js';
import { createCpuBackend, nativeBinding } from './native';
import { createCudaBackend, cudaBinding, cudaProbeStatus, type CudaStatus } from './cuda';
import type { Backend, BackendChoice } from './types';

let cpu: Backend | null | undefined;

export function cpuBackend(): Backend | null {
  if (cpu === undefined) {
    const b = nativeBinding();
    cpu = b ? createCpuBackend(b) : null;
  }
  return cpu;
}

let cuda: Backend | null | undefined;

/**
 * Whether CUDA is used, with the device or exactly why not (lib/backend/cuda.ts: tried only
 * with an NVIDIA driver present, trusted only after a child-process self-test).
 */
export function cudaStatus(): CudaStatus {
  return cudaProbeStatus();
}

/** The cuda backend (GPU matmuls, other ops on the CPU backend), or null with cudaStatus().reason. */
export function cudaBackend(): Backend | null {
  if (cuda === undefined) {
    const b = cudaBinding();
    const fallback = cpuBackend();
    cuda = b && fallback ? createCudaBackend(b, fallback) : null;
  }
  return cuda;
}

export function checkBackendChoice(choice: unknown): BackendChoice {
  if (choice === undefined) return 'auto';
  if (choice === 'auto' || choice === 'js' || choice === 'cpu' || choice === 'cuda') return choice;
  throw new SparsennError('ERR_ARG', `backend must be 'auto', 'cuda', 'cpu' or 'js', got ${String(choice)}`);
}

export function selectBackend(choice: BackendChoice = 'auto'): Backend {
  switch (choice) {
    case 'js':
      return jsBackend;
    case 'cpu': {
      const b = cpuBackend();
      if (!b) throw new SparsennError('ERR_BACKEND', "backend 'cpu' requested but the native addon could not be loaded");
      return b;
    }
    case 'cuda': {
      const b = cudaBackend();
      if (!b) {
        const reason = cudaStatus().reason ?? 'the CPU addon it builds on could not be loaded';
        throw new SparsennError('ERR_BACKEND', `backend 'cuda' requested but CUDA is not available: ${reason}`);
      }
      return b;
    }
    default:
      return cudaBackend() ?? cpuBackend() ?? jsBackend;
  }
}
