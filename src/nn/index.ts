// Layer builders over the graph IR; parameter names follow diffusers and the authors' state dicts.
export { Scope } from "./scope.js";
export { linear } from "./linear.js";
export { conv2d, frameConv2d, conv3d, type Conv2dOptions, type Conv3dOptions } from "./conv.js";
export { foldFrames, unfoldFrames } from "./frames.js";
export { groupNorm, layerNorm } from "./norm.js";
export { attention, type AttentionConfig } from "./attention.js";
export { timestepProjection, timestepEmbedding, framePositionEmbedding, type TimestepProjection } from "./embeddings.js";
export { resnetBlock, type ResnetConfig } from "./resnet.js";
export { downsample, upsample } from "./sampling.js";
export { temporalConv, temporalConvKeys, type TemporalConvConfig, type TemporalConvLayout } from "./temporal.js";
export { gegluFeedForward } from "./feedforward.js";
export {
  transformer3d,
  transformer2d,
  transformerTemporal,
  type TransformerConfig,
  type SpatialTransformerConfig,
  type VideoTransformerConfig,
  type VideoDims,
} from "./transformer.js";
