// What a model is, without running it: for a model folder, each network's key config fields and its
// weights (file, tensor and parameter counts, bytes by stored dtype), the tokenizer, the scheduler and the
// clip geometry; for a single weights file or part folder (what openWeights reads), its weights. Only
// headers are read, so a multi-gigabyte model is described in milliseconds. What `vidrd info` prints.

import { existsSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { clipTextConfigFromJson, type ClipTextConfig } from "../models/clip/index.js";
import { parseUNet3DConfig, type UNet3DConfig } from "../models/unet3d/index.js";
import { vaeConfigFromJson, type VaeConfig } from "../models/vae/index.js";
import { isModelPart, openWeights, type ModelPart, type OpenedWeights, type WeightsLayout } from "../models/weights/index.js";
import { resolveSchedulerConfig, type ResolvedSchedulerConfig } from "../schedulers/config.js";
import { VideoModel } from "./video-model.js";

/** Bytes per element of the dtypes weights are stored in (torch's names, as TensorEntry.storedDType gives them). */
const STORED_ITEM_BYTES: Readonly<Record<string, number>> = {
  float64: 8, float32: 4, float16: 2, bfloat16: 2, float8_e5m2: 1, float8_e4m3fn: 1,
  int64: 8, uint64: 8, int32: 4, uint32: 4, int16: 2, uint16: 2, int8: 1, uint8: 1, bool: 1,
};

export interface DTypeCount {
  tensors: number;
  parameters: number;
  bytes: number;
}

export interface WeightsSummary {
  /** The file the tensors are read from. */
  weightsFile: string;
  layout: WeightsLayout;
  tensors: number;
  /** Elements of all tensors. */
  parameters: number;
  /** Bytes of tensor data as stored (the file holds these plus a header). */
  bytes: number;
  /** Stored dtype -> its tensors, parameters and bytes. */
  dtypes: Record<string, DTypeCount>;
}

export interface PartInfo extends WeightsSummary {
  /** The config fields that say what the network is (diffusers' names). */
  config: Record<string, unknown>;
}

export interface ModelFolderInfo {
  kind: "model";
  path: string;
  /** N, frames per clip; the output rate; the default frame side in pixels. */
  clipFrames: number;
  fps: number;
  defaultSize: number;
  latentChannels: number;
  /** Pixels per latent along each side. */
  spatialFactor: number;
  parts: Record<"unet" | "vae" | "text_encoder", PartInfo>;
  tokenizer: { vocabSize: number };
  scheduler: Omit<ResolvedSchedulerConfig, "steps">;
  parameters: number;
  bytes: number;
}

export interface WeightsInfo extends WeightsSummary {
  kind: "weights";
  path: string;
  /** The network the weights are for, when a config or folder name says so. */
  part: ModelPart | null;
  /** Key config fields when a config.json sits beside the weights and parses as the part's config. */
  config: Record<string, unknown> | null;
  /** Why a config beside the weights could not be read as the part's, or null. */
  configProblem: string | null;
}

export type ModelInfo = ModelFolderInfo | WeightsInfo;

/** Counts of a state dict, from its entries' shapes and stored dtypes. */
export function summarizeWeights(opened: OpenedWeights): WeightsSummary {
  const dtypes: Record<string, DTypeCount> = {};
  let parameters = 0;
  let bytes = 0;
  for (const [, entry] of opened.stateDict.entries()) {
    const n = entry.shape.reduce((a, d) => a * d, 1);
    const b = n * (STORED_ITEM_BYTES[entry.storedDType] ?? 0);
    const slot = (dtypes[entry.storedDType] ??= { tensors: 0, parameters: 0, bytes: 0 });
    slot.tensors++;
    slot.parameters += n;
    slot.bytes += b;
    parameters += n;
    bytes += b;
  }
  return { weightsFile: opened.weightsFile, layout: opened.layout, tensors: opened.stateDict.size, parameters, bytes, dtypes };
}

function unetSummary(c: UNet3DConfig): Record<string, unknown> {
  return {
    variant: c.variant,
    in_channels: c.inChannels,
    out_channels: c.outChannels,
    block_out_channels: c.blockOutChannels,
    layers_per_block: c.layersPerBlock,
    attention_heads: c.heads,
    cross_attention_dim: c.crossAttentionDim,
    sample_size: c.sampleSize,
    add_temp_embed: c.frameEmbedding,
    add_temp_conv: c.temporalConv,
    temporal_attention: c.temporalAttention,
  };
}

function vaeSummary(c: VaeConfig): Record<string, unknown> {
  return {
    latent_channels: c.latentChannels,
    block_out_channels: c.blockOutChannels,
    layers_per_block: c.layersPerBlock,
    sample_size: c.sampleSize,
    scaling_factor: c.scalingFactor,
    add_temp_conv: c.addTempConv,
  };
}

function textSummary(c: ClipTextConfig): Record<string, unknown> {
  return {
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    intermediate_size: c.intermediateSize,
    max_position_embeddings: c.maxPositionEmbeddings,
    hidden_act: c.hiddenAct,
  };
}

/** The key fields of a part's config.json (parsed by the same code that builds the network). */
function partConfigSummary(part: ModelPart, json: Record<string, unknown>): Record<string, unknown> {
  if (part === "unet") return unetSummary(parseUNet3DConfig(json));
  if (part === "vae") return vaeSummary(vaeConfigFromJson(json));
  return textSummary(clipTextConfigFromJson(json));
}

/** A model folder holds the parts as subfolders; a part folder or weights file holds tensors itself. */
function isModelFolder(path: string): boolean {
  if (!statSync(path).isDirectory() || existsSync(join(path, "config.json"))) return false;
  return existsSync(join(path, "model_index.json")) || ["unet", "vae", "text_encoder"].some((p) => existsSync(join(path, p)));
}

function withWeights<T>(path: string, part: ModelPart | undefined, use: (opened: OpenedWeights) => T): T {
  const opened = openWeights(path, part === undefined ? {} : { part });
  try {
    return use(opened);
  } finally {
    opened.stateDict.close();
  }
}

async function folderInfo(dir: string): Promise<ModelFolderInfo> {
  // VideoModel.open checks the folder the way generation will (layout, configs, tokenizer, consistency).
  const model = VideoModel.open(dir);
  try {
    return describeFolder(model);
  } finally {
    await model.release(); // nothing was compiled: this closes the weights files
  }
}

function describeFolder(model: VideoModel): ModelFolderInfo {
  const configs = { unet: unetSummary(model.unetConfig), vae: vaeSummary(model.vaeConfig), text_encoder: textSummary(model.textConfig) };
  const parts = {} as Record<"unet" | "vae" | "text_encoder", PartInfo>;
  for (const part of ["unet", "vae", "text_encoder"] as const) {
    parts[part] = { ...withWeights(join(model.dir, part), part, summarizeWeights), config: configs[part] };
  }
  const { steps: _steps, ...scheduler } = resolveSchedulerConfig(model.scheduler);
  return {
    kind: "model",
    path: model.dir,
    clipFrames: model.clipFrames,
    fps: model.fps,
    defaultSize: model.defaultSize,
    latentChannels: model.latentChannels,
    spatialFactor: model.spatialFactor,
    parts,
    tokenizer: { vocabSize: model.tokenizer.vocabSize },
    scheduler,
    parameters: Object.values(parts).reduce((a, p) => a + p.parameters, 0),
    bytes: Object.values(parts).reduce((a, p) => a + p.bytes, 0),
  };
}

/**
 * Describes `path`: a model folder (unet/, vae/, text_encoder/, tokenizer/, ...), or anything openWeights
 * reads (a safetensors or torch file, a part folder). Errors are the readers' (ModelFolderError, WeightsError).
 */
export async function modelInfo(path: string): Promise<ModelInfo> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new Error(`${path} does not exist; allowed: a model folder, a part folder, or a weights file`);
  // a fifo, socket or device would block the reader forever (or read endless bytes): only files and folders
  const stat = statSync(abs);
  if (!stat.isFile() && !stat.isDirectory()) throw new Error(`${path} is not a regular file or a folder; allowed: a model folder, a part folder, or a weights file`);
  if (isModelFolder(abs)) return await folderInfo(abs);
  // diffusers names a part's folder after it (model/unet/); a config without _class_name says no more
  const folder = statSync(abs).isDirectory() ? basename(abs) : basename(dirname(abs));
  return withWeights(abs, isModelPart(folder) ? folder : undefined, (opened) => {
    let config: Record<string, unknown> | null = null;
    let configProblem: string | null = null;
    if (opened.config !== null && opened.part !== null) {
      try {
        config = partConfigSummary(opened.part, opened.config);
      } catch (e) {
        configProblem = (e as Error).message;
      }
    } else if (opened.config !== null) {
      configProblem = "config.json names no network vidrd knows (unet, vae, text_encoder)";
    }
    return { kind: "weights", path: abs, part: opened.part, config, configProblem, ...summarizeWeights(opened) };
  });
}
