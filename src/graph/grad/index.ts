// All backward rules, by ONNX op type.
import { convRules } from "./conv.js";
import { elementwiseRules } from "./elementwise.js";
import { linalgRules } from "./linalg.js";
import { normRules } from "./norm.js";
import { reduceRules } from "./reduce.js";
import { shapeRules } from "./shape.js";
import type { GradRules } from "./types.js";

export const builtinGradRules: GradRules = {
  ...elementwiseRules,
  ...reduceRules,
  ...convRules,
  ...linalgRules,
  ...normRules,
  ...shapeRules,
};
export type { GradContext, GradRule, GradRules } from "./types.js";
