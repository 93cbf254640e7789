// Stable Diffusion's AutoencoderKL with the VidRD temporal decoder: config, graph builders, chunked decoding.
export * from "./config.js";
export { vaeResnet, vaeSelfAttention, vaeMidBlock } from "./blocks.js";
export * from "./encoder.js";
export * from "./decoder.js";
export * from "./keys.js";
export { ChunkedVaeDecoder, decodeChunked, type ChunkedDecoderOptions } from "./chunked.js";
export { stagePlans, type StagePlan } from "./stages.js";
