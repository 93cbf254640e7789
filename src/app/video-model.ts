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
import { Graph } from "../graph/graph.js";
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

/** Closes every weights file, even when one close throws; the first error is thrown after all were tried. */
function closeAll(weights: readonly OpenedWeights[]): void {
  let first: unknown = null;
  for (const w of weights) {
    try {
      w.stateDict.close();
    } catch (e) {
      first ??= e;
    }
  }
  if (first !== null) throw first;
}

/** The parameters a graph's outputs read (what compiling it bakes in), with their shapes. */
function usedParamShapes(g: Graph): Map<string, readonly number[]> {
  const used = new Set<unknown>();
  const seen = new Set<unknown>();
  const stack = g.outputs.map((o) => o.value);
  while (stack.length) {
    const v = stack.pop()!;
    used.add(v);
    const n = v.producer;
    if (n && !seen.has(n)) {
      seen.add(n);
      for (const i of n.inputs) if (i) stack.push(i);
    }
  }
  return new Map(g.paramList().filter(({ value }) => used.has(value)).map(({ value }) => [value.name, value.shape as number[]]));
}

/** What generation will compile: the VAE decoders by mode, and the VAE encoder (to continue a video). */
export interface WeightsCheckOptions {
  decoders?: readonly TemporalDecoderMode[];
  encoder?: boolean;
}

/** How many problem tensors a weights error names before "and N more". */
const NAMED_PROBLEMS = 2;

export class VideoModel {
  private unet: Promise<CompiledModel> | null = null;
  private text: Promise<CompiledModel> | null = null;
  private readonly decoders = new Map<TemporalDecoderMode, Promise<CompiledModel>>();
  private encoder: Promise<CompiledModel> | null = null;
  private released = false;

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
    // A part that fails to open must not leak the parts opened before it (their files stay open otherwise).
    const opened: Partial<Record<"unet" | "vae" | "text_encoder", OpenedWeights>> = {};
    try {
      for (const part of ["unet", "vae", "text_encoder"] as const) opened[part] = openPart(root, part, dtype);
    } catch (e) {
      closeAll(Object.values(opened));
      throw e;
    }
    const weights = opened as Record<"unet" | "vae" | "text_encoder", OpenedWeights>;
    return new VideoModel(root, unetConfig, vaeConfig, textConfig, tokenizer, scheduler, clipFrames, fps, weights, options);
  }

  /**
   * Checks each part's weights against the parameter names and shapes of the graphs generation compiles
   * (the UNet, the text encoder, the VAE decoder, and the encoder with `encoder`), before any of them is
   * built or run: a missing or misshapen tensor is found in a second, not after the first clip is
   * denoised. Throws a ModelFolderError of one line: the part, how many problems, the first tensors.
   */
  checkWeights(options: WeightsCheckOptions = {}): void {
    const { dtype } = this.options;
    const unet = new Graph("unet3d_check");
    buildUNet3D(unet, this.unetConfig, { perFrameTimesteps: true, height: "H", width: "W", dtype });
    const expected: Record<"unet" | "vae" | "text_encoder", Map<string, readonly number[]>> = {
      unet: usedParamShapes(unet),
      text_encoder: usedParamShapes(clipTextEncoderGraph(this.textConfig, { dtype })),
      vae: new Map(),
    };
    for (const temporalDecoder of options.decoders ?? ["clip"]) {
      for (const [k, v] of usedParamShapes(buildVaeDecoderGraph(this.vaeConfig, { temporalDecoder, dtype }))) expected.vae.set(k, v);
    }
    if (options.encoder) for (const [k, v] of usedParamShapes(buildVaeEncoderGraph(this.vaeConfig, { dtype }))) expected.vae.set(k, v);
    for (const part of ["unet", "text_encoder", "vae"] as const) {
      const weights = this.weights[part].stateDict;
      const problems: string[] = [];
      for (const [name, shape] of expected[part]) {
        const entry = weights.get(name);
        if (entry === undefined) problems.push(`${name} is missing (expected [${shape.join(", ")}])`);
        else if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
          problems.push(`${name} is [${entry.shape.join(", ")}], expected [${shape.join(", ")}]`);
        }
      }
      if (problems.length > 0) {
        const more = problems.length > NAMED_PROBLEMS ? `; and ${problems.length - NAMED_PROBLEMS} more` : "";
        throw new ModelFolderError(
          `model ${this.dir}: ${part}: ${problems.length} weight problem${problems.length === 1 ? "" : "s"} (of ${expected[part].size} tensors): ${problems.slice(0, NAMED_PROBLEMS).join("; ")}${more}`,
        );
      }
    }
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

  /**
   * Releases every session and closes every weights file, even when a compile failed (its promise rejected)
   * or a release throws: all are tried, then the first release error (not a compile's, already reported) is thrown.
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const compiled = [this.unet, this.text, ...this.decoders.values(), this.encoder].filter((p): p is Promise<CompiledModel> => p !== null);
    this.unet = this.text = this.encoder = null;
    this.decoders.clear();
    try {
      const settled = await Promise.allSettled(
        compiled.map(async (p) => {
          let model: CompiledModel;
          try {
            model = await p;
          } catch {
            return; // never compiled: nothing to release
          }
          await model.session.release();
        }),
      );
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    } finally {
      closeAll(Object.values(this.weights));
    }
  }
}
