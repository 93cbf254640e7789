// The transformers of the video UNets (models-spec.md sections 3.2, 3.4, 7), parameter names as in the
// state dicts:
// - transformer3d: the authors' Transformer3DModel. Per frame: GroupNorm (eps 1e-6) -> proj_in ->
//   BasicTransformerBlock -> proj_out -> + input. Inside the block, after self- and cross-attention, the
//   frame position embedding is added to the residual stream (it stays there), then temp_norm (LayerNorm)
//   -> temp_attn (self-attention over the frames of each spatial token) -> residual, then the GEGLU
//   feed-forward. With one frame the temporal attention is skipped but the embedding pe[0] = (0,1,0,1,..)
//   is still added (the authors add it in place), so F = 1 is not SD's 2-D transformer unless the frame
//   embedding is off.
// - transformer2d: diffusers' Transformer2DModel on frames folded into the batch (ModelScope's spatial
//   transformer): the same without temporal attention.
// - transformerTemporal: diffusers' TransformerTemporalModel (ModelScope): GroupNorm (eps 1e-6) over the
//   frames of a clip -> proj_in -> a block over frames whose attn2 is a second self-attention -> proj_out
//   -> + input. No special case for one frame.
// Cross-attention: every frame of a clip attends to the clip's one text context. The authors repeat the
// context per frame; here the F frames' queries attend to it together ([B, F*N, C] against [B, L, D]),
// which is the same softmax row by row without materialising the repeat.

import { type Dim, dimMul } from "../graph/dim.js";
import type { Value } from "../graph/graph.js";
import * as ops from "../graph/ops/index.js";
import { attention } from "./attention.js";
import { conv2d } from "./conv.js";
import { framePositionEmbedding } from "./embeddings.js";
import { gegluFeedForward } from "./feedforward.js";
import { linear } from "./linear.js";
import { groupNorm, layerNorm } from "./norm.js";
import type { Scope } from "./scope.js";

export interface TransformerConfig {
  /** Channels of the input and output (in_channels). */
  channels: number;
  heads: number;
  headDim: number;
  /** Groups of the input GroupNorm. */
  groups: number;
}

export interface SpatialTransformerConfig extends TransformerConfig {
  /** Channels of the text context (cross_attention_dim). */
  contextDim: number;
  /** proj_in / proj_out as Linear (use_linear_projection, SD 2.x) or as 1x1 Conv2d. */
  linearProjection: boolean;
}

export interface VideoTransformerConfig extends SpatialTransformerConfig {
  /** temp_norm + temp_attn inside the block (the authors' add_temp_attn). */
  temporalAttention: boolean;
  /** Sinusoidal frame embedding added before the temporal attention (add_temp_embed; released model: on). */
  frameEmbedding: boolean;
}

/** Batch and frame count of a video whose frames are folded into the batch ([B*F, ...], frame fastest). */
export interface VideoDims {
  batch: Dim;
  frames: Dim;
}

/** 1 when `frames` > 1, else 0, as float [1]; the gate of the authors' "ignore temporal layers on images". */
function moreThanOneFrame(g: Value["graph"], frames: Dim): Value {
  const count = ops.shapeTensor(g, [frames], "frames"); // int64 [1]
  return ops.cast(ops.greater(count, ops.int64s(g, [1])), "float32");
}

/** x + attn(norm(x)): diffusers' BasicTransformerBlock step with LayerNorm (eps 1e-5), self-attention. */
function selfAttentionStep(block: Scope, attn: string, norm: string, x: Value, cfg: TransformerConfig, dim: number): Value {
  const normed = layerNorm(block.child(norm), x, dim);
  return ops.add(x, attention(block.child(attn), normed, null, { queryDim: dim, heads: cfg.heads, headDim: cfg.headDim }));
}

/**
 * tokens [B*F, N, C] attend to the clip's context [B, L, D]: the F frames' queries are stacked per clip
 * ([B, F*N, C]); softmax is per query, so this equals per-frame attention to a repeated context.
 */
function sharedContextAttention(s: Scope, tokens: Value, context: Value, video: VideoDims, dim: number, cfg: SpatialTransformerConfig): Value {
  const [bf, n] = tokens.shape as [Dim, Dim, Dim];
  const perClip = ops.reshape(tokens, [video.batch, dimMul(video.frames, n), dim]); // [B, F*N, C]
  const out = attention(s, perClip, context, { queryDim: dim, contextDim: cfg.contextDim, heads: cfg.heads, headDim: cfg.headDim });
  return ops.reshape(out, [bf, n, dim]); // [B*F, N, C]
}

/**
 * The authors' temporal attention on tokens [B*F, N, C]: x += pe (kept in the stream); then per spatial
 * token, self-attention over the F frames with a residual. F = 1: only the embedding is added.
 */
function temporalAttention(s: Scope, tokens: Value, video: VideoDims, dim: number, cfg: VideoTransformerConfig): Value {
  const g = tokens.graph;
  const [bf, n] = tokens.shape as [Dim, Dim, Dim];
  let x = tokens;
  if (cfg.frameEmbedding) {
    const pe = ops.reshape(framePositionEmbedding(g, video.frames, dim), [video.frames, 1, dim]); // [F, 1, C]
    const perFrame = ops.reshape(x, [video.batch, video.frames, n, dim]); // [B, F, N, C]
    x = ops.reshape(ops.add(perFrame, pe), [bf, n, dim]); // [B*F, N, C]
  }
  if (video.frames === 1) return x;
  const perToken = ops.transpose(ops.reshape(x, [video.batch, video.frames, n, dim]), [0, 2, 1, 3]); // [B, N, F, C]
  const sequences = ops.reshape(perToken, [dimMul(video.batch, n), video.frames, dim]); // [B*N, F, C]
  const normed = layerNorm(s.child("temp_norm"), sequences, dim);
  let update = attention(s.child("temp_attn"), normed, null, { queryDim: dim, heads: cfg.heads, headDim: cfg.headDim }); // [B*N, F, C]
  if (typeof video.frames !== "number") update = ops.mul(update, moreThanOneFrame(g, video.frames));
  const back = ops.reshape(update, [video.batch, n, video.frames, dim]); // [B, N, F, C]
  const framesFirst = ops.reshape(ops.transpose(back, [0, 2, 1, 3]), [bf, n, dim]); // [B*F, N, C]
  return ops.add(x, framesFirst);
}

/** diffusers' BasicTransformerBlock over spatial tokens [B*F, N, C], optionally with the authors' temporal attention. */
function spatialBlock(s: Scope, tokens: Value, context: Value, video: VideoDims, dim: number, cfg: SpatialTransformerConfig, temporal: VideoTransformerConfig | null): Value {
  let x = selfAttentionStep(s, "attn1", "norm1", tokens, cfg, dim);
  x = ops.add(x, sharedContextAttention(s.child("attn2"), layerNorm(s.child("norm2"), x, dim), context, video, dim, cfg));
  if (temporal?.temporalAttention) x = temporalAttention(s, x, video, dim, temporal);
  return ops.add(x, gegluFeedForward(s.child("ff"), layerNorm(s.child("norm3"), x, dim), dim));
}

/** Per frame: x [B*F, C, H, W] -> GroupNorm -> tokens [B*F, H*W, inner] -> block -> back -> + x. */
function framewiseTransformer(s: Scope, x: Value, context: Value, video: VideoDims, cfg: SpatialTransformerConfig, temporal: VideoTransformerConfig | null): Value {
  const [bf, c, h, w] = x.shape as [Dim, number, Dim, Dim];
  const inner = cfg.heads * cfg.headDim;
  const hw = dimMul(h, w);
  const normed = groupNorm(s.child("norm"), x, cfg.groups, c, 1e-6);
  let tokens: Value;
  if (cfg.linearProjection) {
    const flat = ops.reshape(ops.transpose(normed, [0, 2, 3, 1]), [bf, hw, c]); // [B*F, H*W, C]
    tokens = linear(s.child("proj_in"), flat, c, inner); // [B*F, H*W, inner]
  } else {
    const projected = conv2d(s.child("proj_in"), normed, c, inner, { kernel: 1, padding: 0 }); // [B*F, inner, H, W]
    tokens = ops.reshape(ops.transpose(projected, [0, 2, 3, 1]), [bf, hw, inner]); // [B*F, H*W, inner]
  }
  tokens = spatialBlock(s.child("transformer_blocks").child(0), tokens, context, video, inner, cfg, temporal);
  let out: Value;
  if (cfg.linearProjection) {
    const projected = linear(s.child("proj_out"), tokens, inner, c); // [B*F, H*W, C]
    out = ops.transpose(ops.reshape(projected, [bf, h, w, c]), [0, 3, 1, 2]); // [B*F, C, H, W]
  } else {
    const grid = ops.transpose(ops.reshape(tokens, [bf, h, w, inner]), [0, 3, 1, 2]); // [B*F, inner, H, W]
    out = conv2d(s.child("proj_out"), grid, inner, c, { kernel: 1, padding: 0 }); // [B*F, C, H, W]
  }
  return ops.add(out, x);
}

/** The authors' Transformer3DModel: x [B, C, F, H, W], context [B, L, D] -> [B, C, F, H, W]. */
export function transformer3d(s: Scope, x: Value, context: Value, cfg: VideoTransformerConfig): Value {
  const [b, c, f, h, w] = x.shape as [Dim, Dim, Dim, Dim, Dim];
  const folded = ops.reshape(ops.transpose(x, [0, 2, 1, 3, 4]), [dimMul(b, f), c, h, w]); // [B*F, C, H, W]
  const y = framewiseTransformer(s, folded, context, { batch: b, frames: f }, cfg, cfg);
  return ops.transpose(ops.reshape(y, [b, f, c, h, w]), [0, 2, 1, 3, 4]); // [B, C, F, H, W]
}

/** diffusers' Transformer2DModel on x [B*F, C, H, W] (frame fastest) with context [B, L, D] per clip. */
export function transformer2d(s: Scope, x: Value, context: Value, video: VideoDims, cfg: SpatialTransformerConfig): Value {
  return framewiseTransformer(s, x, context, video, cfg, null);
}

/** diffusers' TransformerTemporalModel: x [B*F, C, H, W] (frame fastest) -> [B*F, C, H, W], attention over frames. */
export function transformerTemporal(s: Scope, x: Value, video: VideoDims, cfg: TransformerConfig): Value {
  const [, c, h, w] = x.shape as [Dim, number, Dim, Dim];
  const { batch: b, frames: f } = video;
  const inner = cfg.heads * cfg.headDim;
  const clips = ops.transpose(ops.reshape(x, [b, f, c, h, w]), [0, 2, 1, 3, 4]); // [B, C, F, H, W]
  const normed = groupNorm(s.child("norm"), clips, cfg.groups, c, 1e-6); // statistics over the clip's frames
  const sequences = ops.reshape(ops.transpose(normed, [0, 3, 4, 2, 1]), [dimMul(dimMul(b, h), w), f, c]); // [B*H*W, F, C]
  let t = linear(s.child("proj_in"), sequences, c, inner); // [B*H*W, F, inner]
  const block = s.child("transformer_blocks").child(0);
  t = selfAttentionStep(block, "attn1", "norm1", t, cfg, inner);
  t = selfAttentionStep(block, "attn2", "norm2", t, cfg, inner); // double self-attention
  t = ops.add(t, gegluFeedForward(block.child("ff"), layerNorm(block.child("norm3"), t, inner), inner));
  const out = linear(s.child("proj_out"), t, inner, c); // [B*H*W, F, C]
  const framesFirst = ops.transpose(ops.reshape(out, [b, h, w, f, c]), [0, 3, 4, 1, 2]); // [B, F, C, H, W]
  return ops.add(ops.reshape(framesFirst, x.shape), x); // [B*F, C, H, W]
}
