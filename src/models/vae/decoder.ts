// The VAE decoder (post_quant_conv + diffusers Decoder) with the VidRD temporal decoder layers
// (models-spec.md section 5.3): after every ResNet of every up block, a 3-repeat temporal conv over the
// clip's frames. Everything else acts on each frame alone.
//
//   latents [B, L, F, h, w] (diffusion space) -> z = latents / scaling_factor -> frames folded [B*F, L, h, w]
//   stem:     post_quant_conv -> conv_in -> mid block (resnet, attention, resnet)
//   up block i (channels reversed), ResNet j: resnet -> temp_convs.j on [B, C, F, H, W] (clip mode)
//                                   then, but in the last block, upsamplers.0 (nearest x2, conv 3x3)
//   head:     conv_norm_out (GroupNorm eps 1e-6) -> SiLU -> conv_out       -> frames [B, 3, F, 8h, 8w]
//
// The decoder is written as a list of steps so that the chunked decoder (chunked.ts) can cut it at the
// temporal layers and run the same code on chunks of frames.

import type { Dim } from "../../graph/dim.js";
import { Graph, type Value } from "../../graph/graph.js";
import * as ops from "../../graph/ops/index.js";
import { conv2d, foldFrames, groupNorm, Scope, temporalConv, unfoldFrames, upsample } from "../../nn/index.js";
import { type WeightDType, weightScope } from "../compiled/weight-dtype.js";
import { vaeMidBlock, vaeResnet } from "./blocks.js";
import { VAE_NORM_EPS, VAE_TEMPORAL_NORM_EPS, VAE_TEMPORAL_REPEATS, type VaeConfig, validateVaeConfig } from "./config.js";

/**
 * "clip": the temporal decoder sees the clip's F frames (what VidRD's temporal VAE was trained for).
 * "per-frame": every frame decoded alone with the temporal layers skipped, as the authors' pipeline does
 * (it calls decode with the default num_frames = 1).
 */
export type TemporalDecoderMode = "clip" | "per-frame";
export const TEMPORAL_DECODER_MODES: readonly TemporalDecoderMode[] = ["clip", "per-frame"];

export type DecoderStep =
  | { kind: "stem"; channels: number }
  | { kind: "resnet"; block: number; layer: number; inChannels: number; outChannels: number }
  | { kind: "temporal"; block: number; layer: number; channels: number }
  | { kind: "upsample"; block: number; channels: number }
  | { kind: "head"; channels: number };

/** The decoder in execution order; temporal steps only when `temporal` (and the config has them). */
export function decoderSteps(cfg: VaeConfig, temporal: boolean): DecoderStep[] {
  const ch = [...cfg.blockOutChannels].reverse();
  const steps: DecoderStep[] = [{ kind: "stem", channels: ch[0]! }];
  ch.forEach((cout, block) => {
    for (let layer = 0; layer <= cfg.layersPerBlock; layer++) {
      const cin = layer === 0 ? ch[Math.max(block - 1, 0)]! : cout;
      steps.push({ kind: "resnet", block, layer, inChannels: cin, outChannels: cout });
      if (temporal && cfg.addTempConv) steps.push({ kind: "temporal", block, layer, channels: cout });
    }
    if (block < ch.length - 1) steps.push({ kind: "upsample", block, channels: cout });
  });
  steps.push({ kind: "head", channels: ch[ch.length - 1]! });
  return steps;
}

/** The scope of a temporal step's parameters: decoder.up_blocks.i.temp_convs.j. */
export function temporalScope(root: Scope, step: { block: number; layer: number }, trainable: boolean): Scope {
  return root.child("decoder").child("up_blocks").child(step.block).child("temp_convs", { trainable }).child(step.layer);
}

/**
 * One per-frame step on x [N, C, H, W] (N = B*F). The stem takes VAE-space z [N, L, h, w]; the head
 * returns [N, out, H, W]. Temporal steps are not per-frame: see `temporalStep`.
 */
export function spatialStep(root: Scope, x: Value, step: DecoderStep, cfg: VaeConfig): Value {
  const s = root.child("decoder");
  switch (step.kind) {
    case "stem": {
      const z = conv2d(root.child("post_quant_conv"), x, cfg.latentChannels, cfg.latentChannels, { kernel: 1 });
      return vaeMidBlock(s.child("mid_block"), conv2d(s.child("conv_in"), z, cfg.latentChannels, step.channels), step.channels, cfg);
    }
    case "resnet":
      return vaeResnet(s.child("up_blocks").child(step.block).child("resnets").child(step.layer), x, step.inChannels, step.outChannels, cfg);
    case "upsample":
      return upsample(s.child("up_blocks").child(step.block).child("upsamplers").child(0), x, step.channels);
    case "head": {
      const h = ops.silu(groupNorm(s.child("conv_norm_out"), x, cfg.normNumGroups, step.channels, VAE_NORM_EPS));
      return conv2d(s.child("conv_out"), h, step.channels, cfg.outChannels);
    }
    case "temporal":
      throw new Error(`spatialStep: temporal step up_blocks.${step.block}.temp_convs.${step.layer} needs the clip layout; use temporalStep`);
  }
}

/** A temporal step on the clip x [B, C, F, H, W]: x + f(x), the identity for one frame. */
export function temporalStep(root: Scope, x: Value, step: Extract<DecoderStep, { kind: "temporal" }>, cfg: VaeConfig, trainable: boolean): Value {
  return temporalConv(temporalScope(root, step, trainable), x, {
    channels: step.channels,
    groups: cfg.tempNormNumGroups,
    eps: VAE_TEMPORAL_NORM_EPS,
    layout: "vidrd",
    repeats: VAE_TEMPORAL_REPEATS,
  });
}

/** Which decoder parameters a training graph may update; the paper fine-tunes only the temporal layers. */
export type DecoderTrainable = "temporal" | "all" | "none";

export interface VaeDecoderOptions {
  temporalDecoder: TemporalDecoderMode;
  /** Default "temporal". */
  trainable?: DecoderTrainable;
}

/**
 * latents [B, L, F, h, w] in diffusion space (divided by scaling_factor here) -> frames [B, out, F, H, W],
 * nominally in [-1, 1] and not clamped. Parameters under `root`: post_quant_conv.*, decoder.*.
 */
export function vaeDecoder(root: Scope, latents: Value, cfg: VaeConfig, opts: VaeDecoderOptions): Value {
  if (latents.rank !== 5) throw new Error(`vaeDecoder: latents ${latents.describe()} must be [B, ${cfg.latentChannels}, F, h, w]`);
  if (!TEMPORAL_DECODER_MODES.includes(opts.temporalDecoder)) {
    throw new RangeError(`vaeDecoder: temporalDecoder must be one of ${TEMPORAL_DECODER_MODES.join(", ")}, got ${String(opts.temporalDecoder)}`);
  }
  const trainable = opts.trainable ?? "temporal";
  const spatialRoot = weightScope(root.graph, root.dtype as WeightDType, root.prefix, trainable === "all"); // keeps root's weight dtype
  const temporalTrainable = trainable !== "none";
  const z = ops.mul(latents, 1 / cfg.scalingFactor); // VAE space
  let h = foldFrames(z); // [B*F, L, h, w], frame index fastest
  for (const step of decoderSteps(cfg, opts.temporalDecoder === "clip")) {
    if (step.kind === "temporal") {
      const clip = temporalStep(spatialRoot, unfoldFrames(h, latents), step, cfg, temporalTrainable); // [B, C, F, H, W]
      h = foldFrames(clip); // [B*F, C, H, W]
    } else h = spatialStep(spatialRoot, h, step, cfg);
  }
  return unfoldFrames(h, latents); // [B, out, F, H, W]
}

export interface VaeDecoderGraphOptions extends VaeDecoderOptions {
  /** Input dims; default symbolic B, F, h, w. */
  batch?: Dim;
  frames?: Dim;
  height?: Dim;
  width?: Dim;
  /** Parameter dtype (default float32); float16 weights are cast to float32 for compute (weight-dtype.ts). */
  dtype?: WeightDType;
}

/**
 * A graph: input `latents` [B, L, F, h, w] (diffusion space) -> output `frames` [B, out, F, H, W]; built
 * into `g` when given (e.g. the empty graph the compiled-model cache hands its builder).
 */
export function buildVaeDecoderGraph(cfg: VaeConfig, opts: VaeDecoderGraphOptions, g: Graph = new Graph("vae_decoder")): Graph {
  validateVaeConfig(cfg);
  const latents = g.input("latents", "float32", [opts.batch ?? "B", cfg.latentChannels, opts.frames ?? "F", opts.height ?? "h", opts.width ?? "w"]);
  g.output("frames", vaeDecoder(weightScope(g, opts.dtype), latents, cfg, opts));
  return g;
}
