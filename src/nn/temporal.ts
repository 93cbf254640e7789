// Temporal convolution layers: four repeats of GroupNorm -> SiLU -> (Dropout) -> Conv3d (3,1,1) over the
// frame axis, added to the input (VIDRD.md section 1); the authors' temporal VAE decoder uses three
// repeats (models-spec.md section 5.2). Two key layouts:
// - the authors': convs.{0,4,8,12} are the GroupNorms, convs.{3,7,11,15} the Conv3ds;
// - diffusers' TemporalConvLayer (ModelScope): conv1.0 / conv1.2 (no dropout in conv1), and
//   conv{2,3,4}.0 / conv{2,3,4}.3.
// With one frame the layer is the identity (the authors special-case F = 1; the Conv3d would otherwise
// see zero padding on both sides). A symbolic frame count gates the update at run time.

import type { Value } from "../graph/graph.js";
import * as ops from "../graph/ops/index.js";
import { conv3d } from "./conv.js";
import { groupNorm } from "./norm.js";
import type { Scope } from "./scope.js";

export type TemporalConvLayout = "vidrd" | "modelscope";

export interface TemporalConvConfig {
  channels: number;
  groups: number;
  eps: number;
  layout: TemporalConvLayout;
  /**
   * Skip the layer for a single frame (default true: the authors' layers). diffusers' TemporalConvLayer
   * (ModelScope) has no such case: with one frame it still adds f(x), which the zero padding shapes.
   */
  identityAtOneFrame?: boolean;
  /** GroupNorm -> SiLU -> Conv3d repeats; default 4 (UNet), 3 in the authors' temporal VAE decoder. */
  repeats?: number;
}

/** The parameter scopes (relative to the layer) of repeat `repeat`'s GroupNorm and Conv3d. */
export function temporalConvKeys(layout: TemporalConvLayout, repeat: number): { norm: string; conv: string } {
  return keys(layout, repeat);
}

function keys(layout: TemporalConvLayout, repeat: number): { norm: string; conv: string } {
  if (layout === "vidrd") return { norm: `convs.${4 * repeat}`, conv: `convs.${4 * repeat + 3}` };
  return { norm: `conv${repeat + 1}.0`, conv: `conv${repeat + 1}.${repeat === 0 ? 2 : 3}` };
}

/** 1 when the frame axis (2) of x has more than one frame, else 0, as a float scalar. */
function moreThanOneFrame(x: Value): Value {
  const g = x.graph;
  const frames = ops.gather(ops.shapeOf(x), ops.int64s(g, [2])); // int64 [1]
  return ops.cast(ops.greater(frames, ops.int64s(g, [1])), "float32");
}

/** x [B, C, F, H, W] -> x + temporal(x) */
export function temporalConv(s: Scope, x: Value, cfg: TemporalConvConfig): Value {
  const frames = x.shape[2];
  const skipOneFrame = cfg.identityAtOneFrame ?? true;
  if (frames === 1 && skipOneFrame) return x;
  const repeats = cfg.repeats ?? 4;
  if (!Number.isInteger(repeats) || repeats < 1) throw new RangeError(`temporalConv ${s.prefix}: repeats must be a positive integer, got ${repeats}`);
  let h = x;
  for (let r = 0; r < repeats; r++) {
    const k = keys(cfg.layout, r);
    h = ops.silu(groupNorm(s.child(k.norm), h, cfg.groups, cfg.channels, cfg.eps));
    h = conv3d(s.child(k.conv), h, cfg.channels, cfg.channels, { kernel: [3, 1, 1], padding: [1, 0, 0] });
  }
  if (typeof frames !== "number" && skipOneFrame) h = ops.mul(h, moreThanOneFrame(x));
  return ops.add(x, h);
}
