// Down- and up-sampling as in diffusers' Downsample2D / Upsample2D (key `<scope>.conv`): a 3x3 conv
// with stride 2, or nearest x2 in H and W followed by a 3x3 conv. Video tensors [B, C, F, H, W] are
// resampled per frame (frames untouched).

import type { Value } from "../graph/graph.js";
import * as ops from "../graph/ops/index.js";
import { conv2d, frameConv2d } from "./conv.js";
import { foldFrames, unfoldFrames } from "./frames.js";
import type { Scope } from "./scope.js";

/** padding: 1 (UNet), or [0, 0, 1, 1] for the VAE encoder's pad-right-and-bottom-then-conv. */
export function downsample(s: Scope, x: Value, channels: number, opts: { padding?: number | readonly number[] } = {}): Value {
  const conv = x.rank === 5 ? frameConv2d : conv2d;
  return conv(s.child("conv"), x, channels, channels, { kernel: 3, stride: 2, padding: opts.padding ?? 1 });
}

/**
 * Video tensors are folded to frames before the resize: the frame transpose then moves the small tensor,
 * and the runtime's 4-D nearest resize is faster than its 5-D one.
 */
export function upsample(s: Scope, x: Value, channels: number): Value {
  if (x.rank === 5) {
    const up = ops.resizeNearest(foldFrames(x), [1, 1, 2, 2]); // [B*F, C, 2H, 2W]
    return unfoldFrames(conv2d(s.child("conv"), up, channels, channels, { kernel: 3 }), x);
  }
  return conv2d(s.child("conv"), ops.resizeNearest(x, [1, 1, 2, 2]), channels, channels, { kernel: 3 });
}
