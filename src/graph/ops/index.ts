// The op builders: one function per primitive ONNX op, plus the composites built from them.
export * from "./elementwise.js";
export * from "./shape.js";
export * from "./conv.js";
export * from "./linalg.js";
export * from "./attention.js";
export * from "./fill.js";
export { GraphShapeError, type Operand, scalar, int64s } from "./common.js";
