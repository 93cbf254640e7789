// Convolutions with PyTorch weight layouts. `frameConv2d` applies one 2-D convolution to every frame
// of a video tensor (the authors' InflatedConv3d): its weights are plain Conv2d weights, so Stable
// Diffusion's 2-D checkpoints load unchanged.

import type { Value } from "../graph/graph.js";
import * as ops from "../graph/ops/index.js";
import type { Scope } from "./scope.js";
import { foldFrames, unfoldFrames } from "./frames.js";

export interface Conv2dOptions {
  kernel?: number;
  stride?: number;
  /** Symmetric padding, or [top, left, bottom, right] (ONNX order); default kernel / 2. */
  padding?: number | readonly number[];
  bias?: boolean;
}

/** Conv2d on [N, C, H, W]. */
export function conv2d(s: Scope, x: Value, inChannels: number, outChannels: number, opts: Conv2dOptions = {}): Value {
  const k = opts.kernel ?? 3;
  const w = s.param("weight", [outChannels, inChannels, k, k]);
  const b = opts.bias ?? true ? s.param("bias", [outChannels]) : null;
  return ops.conv(x, w, b, { stride: opts.stride ?? 1, padding: opts.padding ?? Math.floor(k / 2), name: s.prefix });
}

/** The same Conv2d on every frame of x [B, C, F, H, W] -> [B, C', F, H', W']. */
export function frameConv2d(s: Scope, x: Value, inChannels: number, outChannels: number, opts: Conv2dOptions = {}): Value {
  const folded = foldFrames(x); // [B*F, C, H, W]
  return unfoldFrames(conv2d(s, folded, inChannels, outChannels, opts), x); // [B, C', F, H', W']
}

export interface Conv3dOptions {
  kernel: readonly [number, number, number];
  padding: readonly [number, number, number];
  bias?: boolean;
}

/** Conv3d on [B, C, F, H, W], weight [out, in, kt, kh, kw]. */
export function conv3d(s: Scope, x: Value, inChannels: number, outChannels: number, opts: Conv3dOptions): Value {
  const w = s.param("weight", [outChannels, inChannels, ...opts.kernel]);
  const b = opts.bias ?? true ? s.param("bias", [outChannels]) : null;
  return ops.conv(x, w, b, { padding: [...opts.padding], name: s.prefix });
}
