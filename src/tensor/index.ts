// Public surface of the host tensor layer (DESIGN.md: no I/O, no runtime).

export * from "./tensor.js";
export type { NoiseSource } from "./noise.js";
export {
  float16Bits,
  bfloat16Bits,
  fromFloat16Bits,
  fromBfloat16Bits,
  float32ToFloat16Array,
  float16ToFloat32Array,
  float32ToBfloat16Array,
  bfloat16ToFloat32Array,
  toFloat16,
  toFloat32,
} from "./float16.js";
export { scale, add, sub, axpy, lerp, mean, variance, std, type VarianceKind } from "./ops.js";
export { frameSlice, frameConcat, framesReversed } from "./frames.js";
export { Rng, RNG_ALGORITHM, type RngState } from "./rng.js";
export { SeededNoise } from "./seeded-noise.js";
