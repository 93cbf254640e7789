// The symbolic graph IR: build with the op builders, emit as ONNX.
export { Graph, Value, attr, describeConstraint, RESERVED_NAME_PREFIX, type Attr, type Attrs, type DimConstraint, type Node, type ParamSpec, type ValueKind } from "./graph.js";
export * from "./dim.js";
export * as ops from "./ops/index.js";
export { GraphShapeError } from "./ops/common.js";
export {
  emitOnnx,
  writeOnnx,
  saveEmitted,
  planOnnx,
  emitPlan,
  writePlan,
  OPSET,
  GraphWeightsError,
  type EmitOptions,
  type EmittedModel,
  type EmissionPlan,
  type WrittenModel,
  type WeightSource,
  type LazyWeight,
  type LazyWeightSource,
} from "./onnx/emit.js";
export { gradients, registerGradRule, hasGradRule, type GradContext, type GradRule } from "./autodiff.js";
export * from "./optim.js";
