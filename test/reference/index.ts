// Plain TypeScript reference implementations that the graph-op tests compare against, written from
// the math definitions (float64, plain loops). Nothing here imports src/ except the Tensor class, for
// conversions (nd.ts).
export * from "./nd.js";
export * from "./random.js";
export * from "./float16.js";
export * from "./assert-close.js";
export * as ref from "./ops.js";
export type { ConvParams, ConvTransposeParams } from "./conv.js";
