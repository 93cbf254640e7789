// The transformer feed-forward of Stable Diffusion and the video UNets (diffusers FeedForward with the
// GEGLU activation of Shazeer 2020, "GLU Variants Improve Transformer", eq. 5 with GELU):
//   [h, gate] = split(proj(x), 2)      ff.net.0.proj: Linear(C, 2 * mult * C); first half the value
//   y = net.2(h * gelu(gate))          gelu exact (erf form); net.1 is a Dropout(0); net.2: Linear(mult * C, C)
// The projection runs as two products on the halves of its weight (sliced once at load), so no Split
// copies the [..., 2 * inner] activation, and the GELU is written x * (1 + erf(x / sqrt 2)) * 0.5, the
// pattern ONNX Runtime fuses into one Gelu kernel (with Mul by 1/sqrt 2 it leaves five element-wise ops).

import type { Value } from "../graph/graph.js";
import * as ops from "../graph/ops/index.js";
import { linear } from "./linear.js";
import type { Scope } from "./scope.js";

/** Exact GELU in the form the runtime fuses. */
function fusableGelu(x: Value): Value {
  return ops.mul(ops.mul(x, ops.add(ops.erf(ops.div(x, Math.SQRT2)), 1)), 0.5);
}

/** x [..., dim] -> [..., dim]; parameters under `s` (the `ff` scope): net.0.proj, net.2. */
export function gegluFeedForward(s: Scope, x: Value, dim: number, mult = 4): Value {
  const inner = dim * mult;
  const proj = s.child("net").child(0).child("proj");
  const w = proj.param("weight", [2 * inner, dim]);
  const b = proj.param("bias", [2 * inner]);
  const value = ops.linear(x, ops.slice(w, 0, 0, inner), ops.slice(b, 0, 0, inner), proj.prefix); // [..., inner]
  const gate = ops.linear(x, ops.slice(w, 0, inner, 2 * inner), ops.slice(b, 0, inner, 2 * inner), proj.prefix); // [..., inner]
  return linear(s.child("net").child(2), ops.mul(value, fusableGelu(gate)), inner, dim);
}
