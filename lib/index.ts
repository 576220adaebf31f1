/** sparsenn's public API, and nothing else. */
export { Tensor } from './tensor';
export type { TensorData } from './tensor';
export type { DType } from './dtype';
export { SparsennError } from './errors';
export type { ErrorCode } from './errors';
export { matmul, matmulAsync } from './ops/matmul';
export type { MatmulOptions } from './ops/matmul';
export { backendInfo, setThreads } from './info';
export type { BackendInfo } from './info';
export type { BackendChoice, BackendName } from './backend/types';
