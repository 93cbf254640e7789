// Normalisation layers with PyTorch parameter names (weight, bias).

import type { Value } from "../graph/graph.js";
import * as ops from "../graph/ops/index.js";
import type { Scope } from "./scope.js";

/**
 * GroupNorm(groups, channels, eps) on [N, C, ...]. On a video tensor [B, C, F, H, W] the statistics span
 * all frames of a clip, as in the authors' ResNets and temporal convs.
 */
export function groupNorm(s: Scope, x: Value, groups: number, channels: number, eps: number, affine = true): Value {
  const w = affine ? s.param("weight", [channels]) : null;
  const b = affine ? s.param("bias", [channels]) : null;
  return ops.groupNorm(x, groups, w, b, { eps, name: s.prefix });
}

/** LayerNorm over the last axis. */
export function layerNorm(s: Scope, x: Value, dim: number, eps = 1e-5, affine = true): Value {
  const w = affine ? s.param("weight", [dim]) : null;
  const b = affine ? s.param("bias", [dim]) : null;
  return ops.layerNorm(x, w, b, { eps, name: s.prefix });
}
