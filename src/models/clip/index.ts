// The CLIP text encoder and its tokenizer (SD's conditioning path: prompt -> ids -> embeddings).
export * from "./config.js";
export * from "./text-encoder.js";
export { ClipTextEncoder, type ClipTextEncoderOptions } from "./text-encoder-session.js";
export * from "./tokenizer.js";
