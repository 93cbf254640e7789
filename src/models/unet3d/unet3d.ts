// The text-to-video UNet (models-spec.md sections 3 and 7) as a graph: eps = UNet(sample, timestep, text).
// One skeleton (conv_in, down blocks with skips, mid block, up blocks, conv_out) walks the levels of the
// config; a "kit" per variant supplies the layers and the tensor layout:
// - vidrd keeps latents as video [B, C, F, H, W] between layers: the ResNet GroupNorms and conv_norm_out
//   normalise over all frames of a clip, convolutions act per frame, the transformers fold frames in;
// - modelscope keeps frames folded into the batch [B*F, C, H, W] (frame fastest) like diffusers: every
//   norm outside the temporal layers is per frame; temporal layers unfold the clip.
// Inputs: sample [B, in, F, H, W]; timestep [B] (or [B, F]: per-frame noise levels, e.g. FIFO-style
// denoising; the timestep enters only through the ResNets' time_emb_proj, so a per-frame embedding is
// added per frame, spec 3.5); encoder_hidden_states [B, L, D]. Output: eps [B, out, F, H, W].
// H and W must be divisible by 2^(levels - 1) (one stride-2 downsample per level but the last).

import { type Dim, dimMul } from "../../graph/dim.js";
import type { Graph, Value } from "../../graph/graph.js";
import * as ops from "../../graph/ops/index.js";
import { conv2d, frameConv2d } from "../../nn/conv.js";
import { timestepEmbedding, timestepProjection } from "../../nn/embeddings.js";
import { foldFrames, unfoldFrames } from "../../nn/frames.js";
import { groupNorm } from "../../nn/norm.js";
import { resnetBlock } from "../../nn/resnet.js";
import { downsample, upsample } from "../../nn/sampling.js";
import type { Scope } from "../../nn/scope.js";
import { temporalConv } from "../../nn/temporal.js";
import { type SpatialTransformerConfig, type VideoDims, transformer2d, transformer3d, transformerTemporal } from "../../nn/transformer.js";
import { type WeightDType, weightScope } from "../compiled/weight-dtype.js";
import type { UNet3DConfig } from "./config.js";

export interface UNet3DBuildOptions {
  /**
   * Dimensions of the inputs: numbers or symbols; defaults "B", "F", the config's sample_size and 77 text
   * tokens. With symbolic H and W ("H", "W") one session takes every latent size divisible by
   * 2^(levels - 1); Session.check refuses the others before running.
   */
  batch?: Dim;
  frames?: Dim;
  height?: Dim;
  width?: Dim;
  contextLength?: Dim;
  /** Timestep input [B, F] (one noise level per frame) instead of [B]. */
  perFrameTimesteps?: boolean;
  /** Which parameters are trainable (default all); e.g. the paper's: temporal layers and attentions. */
  trainable?: (key: string) => boolean;
  /**
   * Parameter dtype (default float32). "float16": float16 checkpoints load without conversion; compute
   * stays float32 (each parameter is cast where used, folded by the runtime at load; see weight-dtype.ts).
   */
  dtype?: WeightDType;
}

export interface UNet3DGraph {
  sample: Value;
  timestep: Value;
  encoderHiddenStates: Value;
  eps: Value;
}

/** Where an attention sits: the authors can restrict temporal attention to the up blocks. */
type Place = "down" | "mid" | "up";

/** The layers of one variant, in its layout. */
interface Kit {
  convIn(root: Scope, x: Value): Value;
  resnet(s: Scope, x: Value, inChannels: number, outChannels: number): Value;
  temporalConv(s: Scope, x: Value, channels: number): Value;
  /** The attention(s) of layer `j` of `block` at `level` (attentions.j, and temp_attentions.j in modelscope). */
  attention(block: Scope, j: number, x: Value, level: number, place: Place): Value;
  convOut(root: Scope, x: Value): Value;
}

/** The spatial transformer of a level. */
function spatialConfig(cfg: UNet3DConfig, level: number): SpatialTransformerConfig {
  return {
    channels: cfg.blockOutChannels[level]!,
    heads: cfg.heads[level]!,
    headDim: cfg.headDims[level]!,
    groups: cfg.normNumGroups,
    contextDim: cfg.crossAttentionDim,
    linearProjection: cfg.useLinearProjection,
  };
}

/** A ResNet with the config's groups and eps; x video (vidrd: GroupNorm over the clip) or frames (modelscope). */
function resnet(cfg: UNet3DConfig, temb: Value): Kit["resnet"] {
  return (s, x, cin, cout) =>
    resnetBlock(s, x, temb, { inChannels: cin, outChannels: cout, tembChannels: 4 * cfg.blockOutChannels[0]!, groups: cfg.normNumGroups, eps: cfg.normEps });
}

/** conv_norm_out -> SiLU -> conv_out; the GroupNorm spans what x holds (a clip, or one frame). */
function normActConvOut(root: Scope, x: Value, cfg: UNet3DConfig, conv: typeof conv2d): Value {
  const c = cfg.blockOutChannels[0]!;
  const h = ops.silu(groupNorm(root.child("conv_norm_out"), x, cfg.normNumGroups, c, cfg.normEps));
  return conv(root.child("conv_out"), h, c, cfg.outChannels);
}

function vidrdKit(cfg: UNet3DConfig, temb: Value, context: Value): Kit {
  return {
    convIn: (root, x) => frameConv2d(root.child("conv_in"), x, cfg.inChannels, cfg.blockOutChannels[0]!),
    resnet: resnet(cfg, temb),
    // The authors' TemporalConvLayer: GroupNorm(32) with PyTorch's default eps, whatever the config says.
    temporalConv: (s, x, c) => (cfg.temporalConv ? temporalConv(s, x, { channels: c, groups: 32, eps: 1e-5, layout: "vidrd" }) : x),
    attention: (block, j, x, level, place) =>
      transformer3d(block.child("attentions").child(j), x, context, {
        ...spatialConfig(cfg, level),
        temporalAttention: cfg.temporalAttention === "all" || place === "up",
        frameEmbedding: cfg.frameEmbedding,
      }),
    convOut: (root, x) => normActConvOut(root, x, cfg, frameConv2d), // GroupNorm over the clip
  };
}

function modelscopeKit(cfg: UNet3DConfig, temb: Value, context: Value, sample: Value, video: VideoDims): Kit {
  const temporalAttention = (s: Scope, x: Value, level: number, heads: number) =>
    transformerTemporal(s, x, video, { channels: cfg.blockOutChannels[level]!, heads, headDim: cfg.headDims[level]!, groups: cfg.normNumGroups });
  return {
    convIn: (root, x) => {
      const h = conv2d(root.child("conv_in"), foldFrames(x), cfg.inChannels, cfg.blockOutChannels[0]!); // [B*F, C, H, W]
      return temporalAttention(root.child("transformer_in"), h, 0, cfg.transformerInHeads);
    },
    resnet: resnet(cfg, temb),
    temporalConv: (s, x, c) => {
      const clips = unfoldFrames(x, sample); // [B, C, F, H, W]
      const y = temporalConv(s, clips, { channels: c, groups: cfg.normNumGroups, eps: 1e-5, layout: "modelscope", identityAtOneFrame: false });
      return foldFrames(y); // [B*F, C, H, W]
    },
    attention: (block, j, x, level) => {
      const spatial = transformer2d(block.child("attentions").child(j), x, context, video, spatialConfig(cfg, level));
      return temporalAttention(block.child("temp_attentions").child(j), spatial, level, cfg.heads[level]!);
    },
    convOut: (root, x) => unfoldFrames(normActConvOut(root, x, cfg, conv2d), sample), // per frame -> [B, out, F, H, W]
  };
}

/** conv_in -> down blocks (skips) -> mid block -> up blocks (concat skips) -> conv_out. */
function skeleton(root: Scope, x: Value, kit: Kit, cfg: UNet3DConfig): Value {
  const channels = cfg.blockOutChannels;
  const levels = channels.length;
  let h = kit.convIn(root, x);
  const skips: { value: Value; channels: number }[] = [{ value: h, channels: channels[0]! }];
  let ch = channels[0]!;
  for (let i = 0; i < levels; i++) {
    const block = root.child("down_blocks").child(i);
    const out = channels[i]!;
    for (let j = 0; j < cfg.layersPerBlock; j++) {
      h = kit.resnet(block.child("resnets").child(j), h, j === 0 ? ch : out, out);
      h = kit.temporalConv(block.child("temp_convs").child(j), h, out);
      if (cfg.downBlockTypes[i] === "CrossAttnDownBlock3D") h = kit.attention(block, j, h, i, "down");
      skips.push({ value: h, channels: out });
    }
    ch = out;
    if (i < levels - 1) {
      h = downsample(block.child("downsamplers").child(0), h, out);
      skips.push({ value: h, channels: out });
    }
  }

  const mid = root.child("mid_block");
  h = kit.resnet(mid.child("resnets").child(0), h, ch, ch);
  h = kit.temporalConv(mid.child("temp_convs").child(0), h, ch);
  h = kit.attention(mid, 0, h, levels - 1, "mid");
  h = kit.resnet(mid.child("resnets").child(1), h, ch, ch);
  h = kit.temporalConv(mid.child("temp_convs").child(1), h, ch);

  for (let i = 0; i < levels; i++) {
    const block = root.child("up_blocks").child(i);
    const level = levels - 1 - i;
    const out = channels[level]!;
    for (let j = 0; j <= cfg.layersPerBlock; j++) {
      const skip = skips.pop()!;
      const cin = ch + skip.channels;
      h = ops.concat([h, skip.value], 1); // [.., ch + skip, ..]: the running state first, the skip second
      h = kit.resnet(block.child("resnets").child(j), h, cin, out);
      ch = out;
      h = kit.temporalConv(block.child("temp_convs").child(j), h, out);
      if (cfg.upBlockTypes[i] === "CrossAttnUpBlock3D") h = kit.attention(block, j, h, level, "up");
    }
    if (i < levels - 1) h = upsample(block.child("upsamplers").child(0), h, out);
  }
  return kit.convOut(root, h);
}

function checkSize(what: string, d: Dim, levels: number): void {
  const factor = 2 ** (levels - 1);
  if (typeof d === "number" && (!Number.isInteger(d) || d < 1 || d % factor !== 0)) {
    throw new RangeError(`UNet3D: ${what} ${d} must be a positive multiple of ${factor} (2^(levels - 1))`);
  }
}

/** Builds the UNet into `g`: inputs sample, timestep, encoder_hidden_states; output eps. */
export function buildUNet3D(g: Graph, cfg: UNet3DConfig, opts: UNet3DBuildOptions = {}): UNet3DGraph {
  const b = opts.batch ?? "B";
  const f = opts.frames ?? "F";
  const height = opts.height ?? cfg.sampleSize;
  const width = opts.width ?? cfg.sampleSize;
  const levels = cfg.blockOutChannels.length;
  checkSize("height", height, levels);
  checkSize("width", width, levels);
  if (typeof f === "number" && (!Number.isInteger(f) || f < 1)) throw new RangeError(`UNet3D: frames ${f} must be a positive integer`);

  const sample = g.input("sample", "float32", [b, cfg.inChannels, f, height, width]);
  const timestep = g.input("timestep", "float32", opts.perFrameTimesteps ? [b, f] : [b]);
  const context = g.input("encoder_hidden_states", "float32", [b, opts.contextLength ?? 77, cfg.crossAttentionDim]);
  const root = weightScope(g, opts.dtype);

  // Timestep embedding (DDPM sinusoids, then time_embedding MLP): [B, T] or [B, F, T], T = 4 * C0.
  const c0 = cfg.blockOutChannels[0]!;
  const projected = timestepProjection(timestep, { dim: c0, flipSinToCos: cfg.flipSinToCos, freqShift: cfg.freqShift });
  let temb = timestepEmbedding(root.child("time_embedding"), projected, c0, 4 * c0);

  let kit: Kit;
  if (cfg.variant === "vidrd") kit = vidrdKit(cfg, temb, context);
  else {
    const video = { batch: sample.shape[0]!, frames: sample.shape[2]! };
    const perFrame = opts.perFrameTimesteps ? temb : ops.expand(ops.unsqueeze(temb, [1]), [b, f, 4 * c0]); // [B, F, T]
    temb = ops.reshape(perFrame, [dimMul(b, f), 4 * c0]); // [B*F, T], as diffusers' repeat_interleave
    kit = modelscopeKit(cfg, temb, context, sample, video);
  }
  const eps = skeleton(root, sample, kit, cfg);
  g.output("eps", eps);
  if (opts.trainable) for (const [name, spec] of g.params) spec.trainable = opts.trainable(name);
  return { sample, timestep, encoderHiddenStates: context, eps };
}
