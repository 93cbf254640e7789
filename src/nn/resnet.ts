// ResnetBlock2D (diffusers) as the authors use it in video: the GroupNorms see the whole clip
// [B, C, F, H, W] (statistics over all frames), the 3x3 convolutions act on every frame alone, and the
// time embedding (one per clip [B, T], or one per frame [B, F, T]) is added per channel. On 4-D input
// [N, C, H, W] (the VAE) it is the plain 2-D block.

import type { Value } from "../graph/graph.js";
import * as ops from "../graph/ops/index.js";
import { conv2d, frameConv2d } from "./conv.js";
import { linear } from "./linear.js";
import { groupNorm } from "./norm.js";
import type { Scope } from "./scope.js";

export interface ResnetConfig {
  inChannels: number;
  outChannels: number;
  /** Channels of the time embedding; 0 for none (VAE). */
  tembChannels: number;
  groups: number;
  eps: number;
}

function convAny(s: Scope, x: Value, cin: number, cout: number, kernel: number): Value {
  return x.rank === 5 ? frameConv2d(s, x, cin, cout, { kernel }) : conv2d(s, x, cin, cout, { kernel });
}

/** x [B, C, F, H, W] or [N, C, H, W]; temb [B, T] or [B, F, T] (video only) or null. */
export function resnetBlock(s: Scope, x: Value, temb: Value | null, cfg: ResnetConfig): Value {
  const { inChannels: cin, outChannels: cout } = cfg;
  let h = ops.silu(groupNorm(s.child("norm1"), x, cfg.groups, cin, cfg.eps));
  h = convAny(s.child("conv1"), h, cin, cout, 3);
  if (temb && cfg.tembChannels > 0) {
    const t = linear(s.child("time_emb_proj"), ops.silu(temb), cfg.tembChannels, cout); // [B, out] or [B, F, out]
    const [b] = t.shape;
    let perChannel: Value;
    if (t.rank === 2) perChannel = ops.reshape(t, [b!, cout, ...Array(x.rank - 2).fill(1)]); // [B, out, 1, 1(, 1)]
    else {
      const f = t.shape[1]!;
      perChannel = ops.reshape(ops.transpose(t, [0, 2, 1]), [b!, cout, f, 1, 1]); // [B, out, F, 1, 1]
    }
    h = ops.add(h, perChannel);
  }
  h = ops.silu(groupNorm(s.child("norm2"), h, cfg.groups, cout, cfg.eps));
  h = convAny(s.child("conv2"), h, cout, cout, 3);
  const shortcut = cin === cout ? x : convAny(s.child("conv_shortcut"), x, cin, cout, 1);
  return ops.add(shortcut, h);
}
