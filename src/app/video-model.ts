// A text-to-video model folder opened for generation: the UNet3D as a Denoiser, the CLIP text encoder
// with its tokenizer, and the VAE (temporal decoder, and the encoder for continuing a video).
//
// The folder has diffusers' layout (what `vidrd convert` writes per part, and the embedded model):
//
//   <dir>/unet/          config.json + model.safetensors (or diffusion_pytorch_model.{safetensors,bin})
//   <dir>/vae/           config.json + weights
//   <dir>/text_encoder/  config.json + weights
//   <dir>/tokenizer/     tokenizer.json, or vocab.json + merges.txt (+ tokenizer_config.json)
//   <dir>/scheduler/     scheduler_config.json (optional: VidRD's DDIM defaults otherwise)
//   <dir>/model_index.json  optional; "clip_frames" (N, default 8) and "fps" (default 4, the authors'
//                           output rate) when present
//
// Each network is compiled once to ONNX and kept in the compiled-model cache (models/compiled), so the
// second start of the same model skips building and reading the weights. Sessions are made on first use.

import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Graph } from "../graph/graph.js";
import { clipTextConfigFromJson, clipTextEncoderGraph, ClipTokenizer, type ClipTextConfig, type ClipTruncation } from "../models/clip/index.js";
import { loadCompiledModel, type CompiledModel } from "../models/compiled/index.js";
import { buildUNet3D, parseUNet3DConfig, type UNet3DConfig } from "../models/unet3d/index.js";
import { buildVaeDecoderGraph, buildVaeEncoderGraph, vaeConfigFromJson, vaeSpatialFactor, type TemporalDecoderMode, type VaeConfig } from "../models/vae/index.js";
import { openWeights, type OpenedWeights } from "../models/weights/index.js";
import type { Device } from "../runtime/index.js";
import type { SchedulerConfig } from "../schedulers/config.js";
import { Tensor } from "../tensor/tensor.js";
import type { Denoiser, Timesteps } from "../pipelines/types.js";
import { schedulerConfigFromJson } from "./scheduler-json.js";

export class ModelFolderError extends Error {
  override name = "ModelFolderError";
}

export interface VideoModelOptions {
  /** Weight dtype the graphs declare; compute stays float32. Default "float32". */
  dtype?: "float32" | "float16";
  /** Runtime threads; default all cores. */
  threads?: number;
  device?: Device;
  /** Compiled-model cache; default $VIDRD_CACHE_DIR, else ~/.cache/vidrd. */
  cacheDir?: string;
  /** Called when a prompt is longer than the tokenizer's 77 tokens, with what was cut. */
  onTruncate?: (truncation: ClipTruncation, prompt: string) => void;
}

export const MODEL_PART_FOLDERS = ["unet", "vae", "text_encoder", "tokenizer"] as const;

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ModelFolderError(`${path}: not readable JSON (${(e as Error).message})`);
  }
}

function positiveIntegerField(json: Record<string, unknown>, field: string, fallback: number, label: string): number {
  const v = json[field] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new ModelFolderError(`${label}: ${field} is ${JSON.stringify(v)}; allowed: a positive integer`);
  return v;
}

/** Checks the folder's layout and reports everything missing at once. */
function checkLayout(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ModelFolderError(`model ${dir}: not a folder; a model folder holds ${MODEL_PART_FOLDERS.join("/, ")}/`);
  const missing = MODEL_PART_FOLDERS.filter((p) => !existsSync(join(dir, p)));
  const noConfig = (["unet", "vae", "text_encoder"] as const).filter((p) => existsSync(join(dir, p)) && !existsSync(join(dir, p, "config.json")));
  const problems = [...missing.map((p) => `no ${p}/`), ...noConfig.map((p) => `no ${p}/config.json`)];
  if (problems.length) throw new ModelFolderError(`model ${dir}: ${problems.join(", ")}; a model folder holds ${MODEL_PART_FOLDERS.join("/, ")}/ (see vidrd convert)`);
}

function openPart(dir: string, part: "unet" | "vae" | "text_encoder", dtype: "float32" | "float16"): OpenedWeights {
  try {
    return openWeights(join(dir, part), { part, dtype });
  } catch (e) {
    throw new ModelFolderError(`model ${dir}: ${part}: ${(e as Error).message}`);
  }
}

export class VideoModel {
  private unet: Promise<CompiledModel> | null = null;
  private text: Promise<CompiledModel> | null = null;
  private readonly decoders = new Map<TemporalDecoderMode, Promise<CompiledModel>>();
  private encoder: Promise<CompiledModel> | null = null;

  private constructor(
    readonly dir: string,
    readonly unetConfig: UNet3DConfig,
    readonly vaeConfig: VaeConfig,
    readonly textConfig: ClipTextConfig,
    readonly tokenizer: ClipTokenizer,
    /** The sampler the model was trained for (scheduler/scheduler_config.json, else VidRD's DDIM). */
    readonly scheduler: SchedulerConfig,
    /** N, the clip length the model was trained on. */
    readonly clipFrames: number,
    /** Frames per second of the training videos: the default output rate. */
    readonly fps: number,
    private readonly weights: Record<"unet" | "vae" | "text_encoder", OpenedWeights>,
    private readonly options: VideoModelOptions,
  ) {}

  /** Opens and checks a model folder; configs and tokenizer are read now, networks compiled on first use. */
  static open(dir: string, options: VideoModelOptions = {}): VideoModel {
    const root = resolve(dir);
    checkLayout(root);
    const dtype = options.dtype ?? "float32";
    const index = existsSync(join(root, "model_index.json")) ? readJson(join(root, "model_index.json")) : {};
    if (typeof index !== "object" || index === null || Array.isArray(index)) throw new ModelFolderError(`${join(root, "model_index.json")}: expected a JSON object`);
    const indexJson = index as Record<string, unknown>;
    const clipFrames = positiveIntegerField(indexJson, "clip_frames", 8, join(root, "model_index.json"));
    const fps = positiveIntegerField(indexJson, "fps", 4, join(root, "model_index.json"));
    const parse = <T>(label: string, f: () => T): T => {
      try {
        return f();
      } catch (e) {
        throw new ModelFolderError(`model ${root}: ${label}: ${(e as Error).message}`);
      }
    };
    const unetConfig = parse("unet/config.json", () => parseUNet3DConfig(readJson(join(root, "unet", "config.json"))));
    const vaeConfig = parse("vae/config.json", () => vaeConfigFromJson(readJson(join(root, "vae", "config.json")), join(root, "vae", "config.json")));
    const textConfig = parse("text_encoder/config.json", () => clipTextConfigFromJson(readJson(join(root, "text_encoder", "config.json"))));
    const tokenizer = parse("tokenizer", () => ClipTokenizer.load(join(root, "tokenizer")));
    if (tokenizer.vocabSize > textConfig.vocabSize) {
      throw new ModelFolderError(`model ${root}: the tokenizer has ${tokenizer.vocabSize} ids but text_encoder/config.json vocab_size is ${textConfig.vocabSize}`);
    }
    if (vaeConfig.latentChannels !== unetConfig.inChannels) {
      throw new ModelFolderError(`model ${root}: vae latent_channels ${vaeConfig.latentChannels} differs from unet in_channels ${unetConfig.inChannels}`);
    }
    if (textConfig.hiddenSize !== unetConfig.crossAttentionDim) {
      throw new ModelFolderError(`model ${root}: text_encoder hidden_size ${textConfig.hiddenSize} differs from unet cross_attention_dim ${unetConfig.crossAttentionDim}`);
    }
    const schedulerPath = join(root, "scheduler", "scheduler_config.json");
    const scheduler = existsSync(schedulerPath) ? parse("scheduler/scheduler_config.json", () => schedulerConfigFromJson(readJson(schedulerPath))) : {};
    const weights = { unet: openPart(root, "unet", dtype), vae: openPart(root, "vae", dtype), text_encoder: openPart(root, "text_encoder", dtype) };
    return new VideoModel(root, unetConfig, vaeConfig, textConfig, tokenizer, scheduler, clipFrames, fps, weights, options);
  }

  /** Latent channels C and the VAE's spatial factor (8 for SD): pixel size = latent size * factor. */
  get latentChannels(): number {
    return this.unetConfig.inChannels;
  }

  get spatialFactor(): number {
    return vaeSpatialFactor(this.vaeConfig);
  }

  /** Default frame size in pixels (the UNet's sample_size times the VAE factor; 256 for VidRD). */
  get defaultSize(): number {
    return this.unetConfig.sampleSize * this.spatialFactor;
  }

  private compile(kind: string, part: "unet" | "vae" | "text_encoder", config: unknown, options: unknown, build: (g: Graph) => void): Promise<CompiledModel> {
    const { dtype = "float32", threads, device, cacheDir } = this.options;
    return loadCompiledModel({ kind, config, options, dtype }, this.weights[part].stateDict, build, { cacheDir, session: { threads, device } });
  }

  /** The UNet as a Denoiser; one session takes any batch, frame count and latent size, per-frame timesteps too. */
  readonly denoiser: Denoiser = async (z: Tensor, t: Timesteps, c) => {
    const { unetConfig } = this;
    this.unet ??= this.compile("unet3d", "unet", unetConfig, { perFrameTimesteps: true, height: "H", width: "W" }, (g) => {
      buildUNet3D(g, unetConfig, { perFrameTimesteps: true, height: "H", width: "W", dtype: this.options.dtype });
    });
    const { session } = await this.unet;
    const [batch, , frames] = z.shape as number[];
    const perFrame = typeof t === "number" ? new Array<number>(frames!).fill(t) : [...t];
    if (perFrame.length !== frames) throw new RangeError(`denoiser: ${perFrame.length} timesteps for ${frames} frames`);
    const timestep = Tensor.float32(Array.from({ length: batch! }, () => perFrame).flat(), [batch!, frames!]);
    const { eps } = await session.run({ sample: z, timestep, encoder_hidden_states: c.embeddings });
    return eps!;
  };

  /** Text embeddings [n, 77, D] for n prompts (the text encoder's last_hidden_state, as SD 2.x uses). */
  async encodeText(prompts: readonly string[]): Promise<Tensor> {
    const { ids } = this.tokenizer.encodeBatch(prompts, { onTruncate: (tr, text) => this.options.onTruncate?.(tr, text) });
    const sequenceLength = ids.shape[1]!;
    this.text ??= this.compile("clip_text_encoder", "text_encoder", this.textConfig, { sequenceLength }, (g) => {
      clipTextEncoderGraph(this.textConfig, { sequenceLength, dtype: this.options.dtype }, g);
    });
    const { session } = await this.text;
    const out = await session.run({ input_ids: ids });
    return out.last_hidden_state!;
  }

  /** Frees the text encoder's session (about 1.4 GB for SD's) once the prompts are encoded; it is rebuilt from the cache if needed again. */
  async releaseTextEncoder(): Promise<void> {
    const text = this.text;
    this.text = null;
    if (text) await (await text).session.release();
  }

  /**
   * Latents [B, C, F, h, w] (diffusion space) -> frames [B, 3, F, H, W] in [-1, 1]. "clip" (default) runs
   * the temporal decoder over the F frames; "per-frame" decodes each frame alone, as the authors' pipeline
   * does (it passes the default of 1 frame, so their temporal layers never act).
   */
  async decode(latents: Tensor, temporalDecoder: TemporalDecoderMode = "clip"): Promise<Tensor> {
    let decoder = this.decoders.get(temporalDecoder);
    if (!decoder) {
      decoder = this.compile("vae_decoder", "vae", this.vaeConfig, { temporalDecoder }, (g) => {
        buildVaeDecoderGraph(this.vaeConfig, { temporalDecoder, dtype: this.options.dtype }, g);
      });
      this.decoders.set(temporalDecoder, decoder);
    }
    const { session } = await decoder;
    return (await session.run({ latents })).frames!;
  }

  /** Frames [B, 3, F, H, W] in [-1, 1] -> latents [B, C, F, h, w] (the posterior mean, diffusion space). */
  async encode(frames: Tensor): Promise<Tensor> {
    this.encoder ??= this.compile("vae_encoder", "vae", this.vaeConfig, { posterior: "mean" }, (g) => {
      buildVaeEncoderGraph(this.vaeConfig, { dtype: this.options.dtype }, g);
    });
    const { session } = await this.encoder;
    return (await session.run({ frames })).latents!;
  }

  async release(): Promise<void> {
    for (const p of [this.unet, this.text, ...this.decoders.values(), this.encoder]) if (p) await (await p).session.release();
    for (const w of Object.values(this.weights)) w.stateDict.close();
  }
}
