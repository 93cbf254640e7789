// nn.Linear: y = x W^T + b, weight [out, in].

import type { Value } from "../graph/graph.js";
import * as ops from "../graph/ops/index.js";
import type { Scope } from "./scope.js";

export function linear(s: Scope, x: Value, inFeatures: number, outFeatures: number, opts: { bias?: boolean } = {}): Value {
  const w = s.param("weight", [outFeatures, inFeatures]);
  const b = opts.bias ?? true ? s.param("bias", [outFeatures]) : null;
  return ops.linear(x, w, b, s.prefix);
}
