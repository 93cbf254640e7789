// Convolutions with PyTorch weight layouts. `frameConv2d` applies one 2-D convolution to every frame
// of a video tensor (the authors' InflatedConv3d): its weights are plain Conv2d weights, so Stable
// Diffusion's 2-D checkpoints load unchanged.

import { type Dim, dimMul } from "../graph/dim.js";
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

/**
 * Conv3d on [B, C, F, H, W], weight [out, in, kt, kh, kw]. A purely temporal kernel (kt, 1, 1) without
 * spatial padding runs as a Conv2d with kernel (kt, 1) on the free view [B, C, F, H*W]: ONNX Runtime's
 * CPU kernels for 2-D convolutions (blocked NCHWc layout) run it 17-27% faster than its Conv3d.
 */
export function conv3d(s: Scope, x: Value, inChannels: number, outChannels: number, opts: Conv3dOptions): Value {
  const w = s.param("weight", [outChannels, inChannels, ...opts.kernel]);
  const b = opts.bias ?? true ? s.param("bias", [outChannels]) : null;
  const [kt, kh, kw] = opts.kernel;
  const [pt, ph, pw] = opts.padding;
  if (x.rank === 5 && kh === 1 && kw === 1 && ph === 0 && pw === 0) {
    const [n, , f, h, wd] = x.shape as [Dim, Dim, Dim, Dim, Dim];
    const flat = ops.reshape(x, [n, inChannels, f, dimMul(h, wd)]); // [B, C, F, H*W]
    const w2 = ops.reshape(w, [outChannels, inChannels, kt, 1]);
    const y = ops.conv(flat, w2, b, { padding: [pt, 0], name: s.prefix }); // [B, out, F', H*W]
    return ops.reshape(y, [n, outChannels, y.shape[2]!, h, wd]);
  }
  return ops.conv(x, w, b, { padding: [...opts.padding], name: s.prefix });
}
