/** sparsenn's public API, and nothing else. */
export { Tensor } from './tensor';
export type { TensorData } from './tensor';
export type { DType } from './dtype';
export { SparsennError } from './errors';
export type { ErrorCode } from './errors';
export { matmul, matmulAsync } from './ops/matmul';
export type { MatmulOptions } from './ops/matmul';
export { CsrMatrix, toCsr } from './formats/csr';
export type { CsrOptions } from './formats/csr';
export { BsrMatrix, toBsr } from './formats/bsr';
export type { BsrOptions } from './formats/bsr';
export { NmMatrix, toNm } from './formats/nm';
export type { NmOptions } from './formats/nm';
export { BitmapMatrix, toBitmap } from './formats/bitmap';
export type { BitmapOptions } from './formats/bitmap';
export { InputSparseWeight, prepareInputSparse } from './ops/input_sparse';
export type { InputSparseOption } from './ops/input_sparse';
export { isSparseMatrix } from './formats/types';
export type { SparseFormat, SparseMatrix } from './formats/types';
export { backendInfo, setThreads } from './info';
export type { BackendInfo } from './info';
export type { BackendChoice, BackendName } from './backend/types';
// Models, generation and evaluation (issue 4).
export { loadModel } from './models/load';
export type { LoadModelOptions } from './models/load';
export { saveModel } from './models/save';
export type { SaveModelOptions } from './models/save';
export { Model } from './models/model';
export type { LogitsOptions } from './models/model';
export type { ModelConfig } from './models/types';
export { convertLlama2cToSafetensors } from './models/convert';
export { syntheticModel } from './models/synthetic';
export type { SyntheticModelOptions } from './models/synthetic';
export type { ConvertOptions } from './models/convert';
export { Linear } from './nn/linear';
export type { LinearWeight } from './nn/linear';
export type { AttentionPolicy, KeySelection } from './nn/attention';
export { KvCache } from './generate/kv_cache';
export { BatchScheduler } from './generate/scheduler';
export type { SchedulerOptions, RequestOptions } from './generate/scheduler';
export type { GenerateOptions, GeneratedChunk, BatchChunk, Prompt } from './generate/generate';
export type { SamplingOptions } from './generate/sampler';
export type { Tokenizer, EncodeOptions } from './generate/tokenizer';
export { perplexity } from './eval/perplexity';
export type { PerplexityOptions, PerplexityResult } from './eval/perplexity';
// attention: BEGIN (issue 6: sparse-attention kernels and policies)
export * as attention from './attention/index';
export {
  createAttentionPolicy,
  FullPolicy,
  StreamingPolicy,
  QuestPolicy,
  DoubleSparsityPolicy,
  TidalPolicy,
  MoaPolicy,
  MixedPolicy,
  planBlockSparse,
  runBlockSparse,
  runBlockSparseAsync,
  calibrateDoubleSparsity,
  calibrateMoa,
} from './attention/index';
export type { AttentionOption, AttentionSpec, AttentionMapSpec, SparseAttentionPolicy, KvCacheView, KvSelection } from './attention/index';
// attention: END
// prune: BEGIN (issue 5: pruners, calibration, pruneModel)
export * as prune from './prune/index';
export { pruneModel } from './prune/prune_model';
export type { PruneModelOptions, PruneReport, PruneLayerReport, PruneProgress, PruneMethod } from './prune/prune_model';
export type { CalibrationOptions } from './prune/calibration';
export { GradualSchedule } from './prune/schedule';
export type { GradualScheduleOptions } from './prune/schedule';
export type { PatternSpec, PruneResult } from './prune/pattern';
// prune: END
