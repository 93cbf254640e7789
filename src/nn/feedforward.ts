// The transformer feed-forward of Stable Diffusion and the video UNets (diffusers FeedForward with the
// GEGLU activation of Shazeer 2020, "GLU Variants Improve Transformer", eq. 5 with GELU):
//   [h, gate] = split(proj(x), 2)      ff.net.0.proj: Linear(C, 2 * mult * C); first half the value
//   y = net.2(h * gelu(gate))          gelu exact (erf form); net.1 is a Dropout(0); net.2: Linear(mult * C, C)

import type { Value } from "../graph/graph.js";
import * as ops from "../graph/ops/index.js";
import { linear } from "./linear.js";
import type { Scope } from "./scope.js";

/** x [..., dim] -> [..., dim]; parameters under `s` (the `ff` scope): net.0.proj, net.2. */
export function gegluFeedForward(s: Scope, x: Value, dim: number, mult = 4): Value {
  const inner = dim * mult;
  const projected = linear(s.child("net").child(0).child("proj"), x, dim, 2 * inner); // [..., 2 * inner]
  const [value, gate] = ops.split(projected, -1, [inner, inner]) as [Value, Value]; // [..., inner] each
  return linear(s.child("net").child(2), ops.mul(value, ops.gelu(gate, "exact")), inner, dim);
}
