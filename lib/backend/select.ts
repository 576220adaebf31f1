/**
 * Backend selection. 'auto' prefers cuda (when its addon loads and passes a
 * self-test), then cpu (the native addon), then js; backendInfo() says which.
 */
import { SparsennError } from '../errors';
import { jsBackend } from './js';
import { createCpuBackend, nativeBinding } from './native';
import type { Backend, BackendChoice } from './types';

let cpu: Backend | null | undefined;

export function cpuBackend(): Backend | null {
  if (cpu === undefined) {
    const b = nativeBinding();
    cpu = b ? createCpuBackend(b) : null;
  }
  return cpu;
}

/** Why CUDA is not used (until the CUDA addon exists, this is always the answer). */
export function cudaStatus(): { available: boolean; reason?: string } {
  return { available: false, reason: 'this build of sparsenn has no CUDA addon' };
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
    case 'cuda':
      throw new SparsennError('ERR_BACKEND', `backend 'cuda' requested but CUDA is not available: ${cudaStatus().reason}`);
    default:
      return cpuBackend() ?? jsBackend;
  }
}
