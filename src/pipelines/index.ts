// Model-agnostic sampling pipelines (DESIGN.md): guidance, prompts, one clip, long videos, continuation.
// Progress is exported as GenerationProgress too: the library root also exports the trainer's Progress.
export type {
  Conditioning,
  Timesteps,
  Denoiser,
  PromptConditioning,
  NoisePredictor,
  PromptSource,
  ClipShape,
  VideoLength,
  Progress as GenerationProgress,
  LongVideoRequest,
  LatentChunk,
  LongVideoStrategy,
} from "./types.js";
export * from "./guidance.js";
export * from "./conditioning.js";
export * from "./prompt-schedule.js";
export * from "./text-to-clip.js";
export * from "./continuation.js";
export * from "./onnx-denoiser.js";
export * from "./long-video/index.js";
