/** The lower-level pruning API, exported publicly as `prune` (prune.magnitude, prune.wanda, ...). */
export { magnitude, magnitudeGlobal } from './magnitude';
export type { MagnitudeOptions } from './magnitude';
export { random } from './random';
export type { RandomOptions } from './random';
export { wanda } from './wanda';
export type { WandaOptions, WandaStats } from './wanda';
export { sparsegpt, sparsegptAsync } from './sparsegpt';
export type { Hessian, SparsegptOptions, SparsegptResult } from './sparsegpt';
export { dsnot } from './dsnot';
export type { DsnotOptions, DsnotResult } from './dsnot';
export { reconstructionError } from './error';
export { LayerStats } from './calibration';
export { maskSparsity } from './pattern';
export type { PatternSpec, PruneResult } from './pattern';
