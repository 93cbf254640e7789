// The VAE encoder (diffusers Encoder + quant_conv) and its diagonal Gaussian posterior (Kingma & Welling
// 2014, section 2.4; Rombach et al. 2022, section 3.1). Every frame is encoded alone: there are no
// temporal layers in the encoder.
//
//   frames x [B, 3, F, H, W] in [-1, 1]
//   moments  = quant_conv(conv_out(SiLU(GN(mid(down(conv_in(x)))))))     [B*F, 2L, h, w]
//   mean, logvar = split(moments), logvar clamped to [-30, 20]            (VAE space)
//   latents  = scaling_factor * mean                                       (posterior "mean")
//            = scaling_factor * (mean + exp(logvar / 2) * eps)             (posterior "sample", eps ~ N(0, I))

import { type Dim, isSymbolName } from "../../graph/dim.js";
import { Graph, type Value } from "../../graph/graph.js";
import * as ops from "../../graph/ops/index.js";
import { conv2d, downsample, foldFrames, groupNorm, Scope, unfoldFrames } from "../../nn/index.js";
import type { NoiseSource } from "../../tensor/noise.js";
import { Tensor } from "../../tensor/tensor.js";
import { type WeightDType, weightScope } from "../compiled/weight-dtype.js";
import { vaeMidBlock, vaeResnet } from "./blocks.js";
import { VAE_NORM_EPS, type VaeConfig, validateVaeConfig, vaeSpatialFactor } from "./config.js";

/** diffusers' DiagonalGaussianDistribution clamps the log-variance to this range. */
export const LOGVAR_RANGE = Object.freeze([-30, 20] as const);

export interface Posterior {
  /** [B, L, F, h, w], VAE space (not yet times scaling_factor). */
  mean: Value;
  /** [B, L, F, h, w], clamped to LOGVAR_RANGE. */
  logvar: Value;
}

/** Encoder + quant_conv on frames [B, C, F, H, W] (parameters under `root`: encoder.*, quant_conv.*). */
export function vaeEncoder(root: Scope, frames: Value, cfg: VaeConfig): Posterior {
  if (frames.rank !== 5) throw new Error(`vaeEncoder: frames ${frames.describe()} must be [B, ${cfg.inChannels}, F, H, W]`);
  const s = root.child("encoder");
  const ch = cfg.blockOutChannels;
  let h = conv2d(s.child("conv_in"), foldFrames(frames), cfg.inChannels, ch[0]!); // [B*F, C0, H, W]
  ch.forEach((cout, i) => {
    const block = s.child("down_blocks").child(i);
    for (let j = 0; j < cfg.layersPerBlock; j++) {
      const cin = j === 0 ? ch[Math.max(i - 1, 0)]! : cout;
      h = vaeResnet(block.child("resnets").child(j), h, cin, cout, cfg);
    }
    // pad right and bottom by one, then a 3x3 stride-2 conv without padding (diffusers Downsample2D, padding 0)
    if (i < ch.length - 1) h = downsample(block.child("downsamplers").child(0), h, cout, { padding: [0, 0, 1, 1] });
  });
  const top = ch[ch.length - 1]!;
  h = vaeMidBlock(s.child("mid_block"), h, top, cfg);
  h = ops.silu(groupNorm(s.child("conv_norm_out"), h, cfg.normNumGroups, top, VAE_NORM_EPS));
  h = conv2d(s.child("conv_out"), h, top, 2 * cfg.latentChannels);
  const moments = conv2d(root.child("quant_conv"), h, 2 * cfg.latentChannels, 2 * cfg.latentChannels, { kernel: 1 }); // [B*F, 2L, h, w]
  const [mean, logvar] = ops.split(moments, 1, [cfg.latentChannels, cfg.latentChannels]) as [Value, Value];
  return { mean: unfoldFrames(mean, frames), logvar: unfoldFrames(clampLogvar(logvar), frames) };
}

/** min(max(logvar, -30), 20), built from Where so it has a gradient. */
export function clampLogvar(logvar: Value): Value {
  const [lo, hi] = LOGVAR_RANGE;
  const floored = ops.where(ops.less(logvar, lo), lo, logvar);
  return ops.where(ops.greater(floored, hi), hi, floored);
}

/** Diffusion-space latents from the posterior: its mean, or a draw with the given standard normal eps. */
export function posteriorLatents(p: Posterior, eps: Value | null, cfg: VaeConfig): Value {
  const z = eps ? ops.add(p.mean, ops.mul(ops.exp(ops.mul(p.logvar, 0.5)), eps)) : p.mean;
  return ops.mul(z, cfg.scalingFactor);
}

export type PosteriorMode = "mean" | "sample";

export interface VaeEncoderGraphOptions {
  /** "mean" (default): latents = scaling_factor * mean; "sample": also takes input `eps`. */
  posterior?: PosteriorMode;
  /** Batch and frame dims; default symbolic B and F. */
  batch?: Dim;
  frames?: Dim;
  /**
   * Image size: numbers (multiples of vaeSpatialFactor(cfg)) or symbols; default symbolic "H" and "W".
   * A symbolic size takes any multiple of the factor at run time (Session.check refuses the others).
   */
  height?: Dim;
  width?: Dim;
  /** Parameter dtype (default float32); float16 weights are cast to float32 for compute (weight-dtype.ts). */
  dtype?: WeightDType;
}

/**
 * A graph: input `frames` [B, in, F, H, W] (and `eps` [B, L, F, H/f, W/f] for "sample") -> outputs `mean`
 * and `logvar` (VAE space) and `latents` (diffusion space, times scaling_factor). Nothing in it is trainable.
 */
export function buildVaeEncoderGraph(cfg: VaeConfig, opts: VaeEncoderGraphOptions = {}, g: Graph = new Graph("vae_encoder")): Graph {
  validateVaeConfig(cfg);
  const factor = vaeSpatialFactor(cfg);
  const size = { height: opts.height ?? "H", width: opts.width ?? "W" };
  for (const [field, v] of Object.entries(size)) {
    if (typeof v === "number" ? !Number.isInteger(v) || v < factor || v % factor !== 0 : !isSymbolName(v)) {
      throw new RangeError(`buildVaeEncoderGraph: ${field} must be a positive multiple of ${factor} (2^(levels - 1)) or a symbol name, got ${String(v)}`);
    }
  }
  const frames = g.input("frames", "float32", [opts.batch ?? "B", cfg.inChannels, opts.frames ?? "F", size.height, size.width]);
  const p = vaeEncoder(weightScope(g, opts.dtype, "", false), frames, cfg);
  const eps = (opts.posterior ?? "mean") === "sample" ? g.input("eps", "float32", p.mean.shape) : null;
  g.output("mean", p.mean);
  g.output("logvar", p.logvar);
  g.output("latents", posteriorLatents(p, eps, cfg));
  return g;
}

/** The `eps` input of a "sample" encoder for frames of shape [B, C, F, H, W], drawn from `noise`. */
export function posteriorNoise(noise: NoiseSource, frameShape: readonly number[], cfg: VaeConfig): Tensor<"float32"> {
  const [b, , f, h, w] = frameShape;
  const factor = vaeSpatialFactor(cfg);
  if (frameShape.length !== 5 || h! % factor !== 0 || w! % factor !== 0) {
    throw new Error(`posteriorNoise: frame shape [${frameShape.join(", ")}] must be [B, C, F, H, W] with H and W multiples of ${factor}`);
  }
  const shape = [b!, cfg.latentChannels, f!, h! / factor, w! / factor];
  return new Tensor("float32", noise.randn(shape), shape);
}
