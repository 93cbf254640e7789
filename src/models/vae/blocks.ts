// The 2-D building blocks the VAE encoder and decoder share (diffusers' ResnetBlock2D without a time
// embedding, AttentionBlock, UNetMidBlock2D), on per-frame tensors [N, C, H, W].

import type { Value } from "../../graph/graph.js";
import * as ops from "../../graph/ops/index.js";
import { attention, groupNorm, resnetBlock, type Scope } from "../../nn/index.js";
import { VAE_NORM_EPS, type VaeConfig } from "./config.js";

/** ResnetBlock2D as the VAE uses it: GroupNorm eps 1e-6, no time embedding; x [N, C, H, W]. */
export function vaeResnet(s: Scope, x: Value, inChannels: number, outChannels: number, cfg: VaeConfig): Value {
  return resnetBlock(s, x, null, { inChannels, outChannels, tembChannels: 0, groups: cfg.normNumGroups, eps: VAE_NORM_EPS });
}

/**
 * AttentionBlock: one head of self-attention over the H*W positions of each image, scale 1/sqrt(C),
 * added to the input. Keys group_norm and to_q/to_k/to_v/to_out.0, all with bias (diffusers-0.14 files
 * spell them query/key/value/proj_attn; see keys.ts).
 */
export function vaeSelfAttention(s: Scope, x: Value, channels: number, cfg: VaeConfig): Value {
  const [n, c] = x.shape;
  const normed = groupNorm(s.child("group_norm"), x, cfg.normNumGroups, channels, VAE_NORM_EPS);
  // -1 and reshapeLike keep the run-time shape computable when H and W are symbolic halvings ("H/2")
  const sequence = ops.transpose(ops.reshape(normed, [n!, c!, -1]), [0, 2, 1]); // [N, H*W, C]
  const attended = attention(s, sequence, null, { queryDim: channels, heads: 1, headDim: channels, qkvBias: true }); // [N, H*W, C]
  const image = ops.reshapeLike(ops.transpose(attended, [0, 2, 1]), x); // [N, C, H, W]
  return ops.add(x, image);
}

/** UNetMidBlock2D of the VAE: resnets.0 -> attentions.0 -> resnets.1, all at `channels`. */
export function vaeMidBlock(s: Scope, x: Value, channels: number, cfg: VaeConfig): Value {
  let h = vaeResnet(s.child("resnets").child(0), x, channels, channels, cfg);
  h = vaeSelfAttention(s.child("attentions").child(0), h, channels, cfg);
  return vaeResnet(s.child("resnets").child(1), h, channels, channels, cfg);
}
