// How a model is compiled: its weight dtype, and the cache of emitted ONNX models.
export {
  CACHE_FORMAT,
  CompiledCacheError,
  compiledModelKey,
  defaultCacheDir,
  loadCompiledModel,
  weightsFingerprint,
  type CompiledCacheOptions,
  type CompiledModel,
  type CompiledModelSpec,
  type CompiledWeights,
} from "./cache.js";
export { Float32ComputeScope, WEIGHT_DTYPES, weightScope, type WeightDType } from "./weight-dtype.js";
