// Weights stored in one dtype, computed in another: a model built with `dtype: "float16"` declares its
// parameters float16 (so a float16 checkpoint loads as it is, at half the bytes in memory, on disk and in
// the emitted model) and casts each one to float32 where a layer uses it. On CPU ONNX Runtime has few
// float16 kernels, so the compute stays float32; each Cast has a constant input, so the runtime's
// constant folding turns it into a float32 initializer at load and runs no Cast per step.

import * as ops from "../../graph/ops/index.js";
import type { Graph, Value } from "../../graph/graph.js";
import { Scope } from "../../nn/scope.js";

/** Parameter dtypes a model can be built with. */
export type WeightDType = "float32" | "float16";
export const WEIGHT_DTYPES: readonly WeightDType[] = ["float32", "float16"];

/** A Scope whose parameters are declared in `dtype` (its `dtype`) and handed to layers as float32. */
export class Float32ComputeScope extends Scope {
  override child(name: string | number, opts: { trainable?: boolean } = {}): Scope {
    return new Float32ComputeScope(this.graph, this.name(String(name)), this.dtype, opts.trainable ?? this.trainable);
  }

  override param(name: string, shape: readonly number[]): Value {
    return ops.cast(super.param(name, shape), "float32"); // no node when the dtype is float32
  }
}

/** The root scope of a model whose weights are `dtype` and whose compute is float32; validates `dtype`. */
export function weightScope(g: Graph, dtype: WeightDType = "float32", prefix = "", trainable = true): Scope {
  if (!WEIGHT_DTYPES.includes(dtype)) throw new RangeError(`dtype must be one of ${WEIGHT_DTYPES.join(", ")}, got ${JSON.stringify(dtype)}`);
  return dtype === "float32" ? new Scope(g, prefix, "float32", trainable) : new Float32ComputeScope(g, prefix, dtype, trainable);
}
