// Moving between the video layout [B, C, F, H, W] and per-frame batches [B*F, C, H, W]. The frame index
// is the fast index inside B*F, as in the authors' code ("b c f h w -> (b f) c h w").

import { dimMul } from "../graph/dim.js";
import type { Value } from "../graph/graph.js";
import * as ops from "../graph/ops/index.js";

/** [B, C, F, H, W] -> [B*F, C, H, W] */
export function foldFrames(x: Value): Value {
  const [b, c, f, h, w] = x.shape;
  const t = ops.transpose(x, [0, 2, 1, 3, 4]); // [B, F, C, H, W]
  return ops.reshape(t, [dimMul(b!, f!), c!, h!, w!]); // [B*F, C, H, W]
}

/** [B*F, C', H', W'] -> [B, C', F, H', W'], with B and F taken from `like` ([B, *, F, *, *]). */
export function unfoldFrames(y: Value, like: Value): Value {
  const [b, , f] = like.shape;
  const [, c, h, w] = y.shape;
  const t = ops.reshape(y, [b!, f!, c!, h!, w!]); // [B, F, C', H', W']
  return ops.transpose(t, [0, 2, 1, 3, 4]); // [B, C', F, H', W']
}
