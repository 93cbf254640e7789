// Finding a model's weights wherever they are, by content rather than by file name:
// - a diffusers-layout folder: config.json + diffusion_pytorch_model.safetensors (or .bin, a torch zip;
//   transformers' model.safetensors / pytorch_model.bin for a text encoder); an SD root folder with a
//   `part` selects its <part>/ subfolder;
// - a single safetensors file, or a torch checkpoint holding a state dict (name -> tensor);
// - a PyTorch Lightning checkpoint (the authors' ModelT2V.pth): {"state_dict": {"unet.…", "text_encoder.…"},
//   "epoch", ...}; a part ("unet") or prefix ("unet.") selects tensors and strips the prefix.
// The VAE's mid-block attention weights are renamed from diffusers <= 0.14 names (query/key/value/
// proj_attn, the authors' vae_finetuned) to the current ones, so both spellings load.

import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsFile } from "../../io/index.js";
import { PthFile, TorchTensor, describePickleValue, sniffPth, type PickleValue, type UnknownGlobals } from "../../io/pth/index.js";
import { vaeKeyFromCheckpoint } from "../vae/keys.js";
import { type ModelPart } from "./part-configs.js";
import { StateDict, WeightsError, stateDictFromSafetensors, stateDictFromTorch, type FloatDType } from "./state-dict.js";

export type WeightsLayout = "diffusers-folder" | "safetensors" | "torch" | "lightning";

export interface OpenWeightsOptions {
  /** Which model of a multi-model source: a Lightning prefix ("unet." …) or an SD root subfolder. */
  readonly part?: ModelPart;
  /** Keep only tensors whose names start with this, with it removed. Overrides the part's prefix. */
  readonly prefix?: string;
  /** Convert float tensors at read; absent: as stored (bfloat16 and float64 read as float32). */
  readonly dtype?: FloatDType;
  /** How the torch reader treats classes outside its allow-list (default "refuse"; see PthReadOptions). */
  readonly unknownGlobals?: UnknownGlobals;
}

export interface OpenedWeights {
  readonly stateDict: StateDict;
  /** The file the tensors are read from. */
  readonly weightsFile: string;
  readonly layout: WeightsLayout;
  /** The config.json next to the weights, parsed; null when there is none. */
  readonly config: Record<string, unknown> | null;
  /** The part the weights belong to, when named or inferred from a folder. */
  readonly part: ModelPart | null;
  /** Lightning metadata worth printing (epoch, global_step, pytorch-lightning_version). */
  readonly checkpointInfo: Readonly<Record<string, string | number>>;
}

/** diffusers' and transformers' weight file names, preferred first. */
const WEIGHT_FILES = ["diffusion_pytorch_model.safetensors", "model.safetensors", "diffusion_pytorch_model.bin", "pytorch_model.bin"];

/** Opens the weights at `path`; the caller closes `stateDict` when done. */
export function openWeights(path: string, options: OpenWeightsOptions = {}): OpenedWeights {
  const opened = openSource(path, options);
  let weights = opened.stateDict;
  try {
    weights = selectPart(weights, opened, options);
    if (opened.part === "vae" || /autoencoder/i.test(String(opened.config?._class_name ?? ""))) {
      weights = weights.mapNames(vaeKeyFromCheckpoint);
    }
    if (options.dtype !== undefined) weights = weights.withFloatDType(options.dtype);
  } catch (e) {
    opened.stateDict.close();
    throw e;
  }
  return { ...opened, stateDict: weights };
}

/** The state dict alone (see openWeights). */
export function loadStateDict(path: string, options: OpenWeightsOptions = {}): StateDict {
  return openWeights(path, options).stateDict;
}

function openSource(path: string, options: OpenWeightsOptions): OpenedWeights {
  let stat;
  try {
    stat = statSync(path);
  } catch (e) {
    throw new WeightsError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!stat.isDirectory()) return openFile(path, null, options.part ?? null, options);
  const part = options.part;
  if (part !== undefined && !existsSync(join(path, "config.json")) && existsSync(join(path, part, "config.json"))) {
    return openSource(join(path, part), options);
  }
  const configPath = join(path, "config.json");
  if (!existsSync(configPath)) {
    throw new WeightsError(`${path}: a folder without config.json; a diffusers-layout folder holds config.json and ${WEIGHT_FILES[0]} (or .bin)`);
  }
  const weightsName = WEIGHT_FILES.find((f) => existsSync(join(path, f)));
  if (weightsName === undefined) {
    const sharded = readdirSync(path).find((f) => f.endsWith(".index.json"));
    throw new WeightsError(
      sharded !== undefined
        ? `${path}: sharded weights (${sharded}) are not supported; merge the shards into one file`
        : `${path}: no weights file; expected one of ${WEIGHT_FILES.join(", ")}`,
    );
  }
  const config = readConfig(configPath);
  const opened = openFile(join(path, weightsName), config, part ?? partFromConfig(config), options);
  return { ...opened, layout: "diffusers-folder" };
}

function readConfig(path: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new WeightsError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new WeightsError(`${path}: must hold a JSON object`);
  return json as Record<string, unknown>;
}

function partFromConfig(config: Record<string, unknown>): ModelPart | null {
  const cls = String(config._class_name ?? (Array.isArray(config.architectures) ? config.architectures[0] : ""));
  if (/autoencoder/i.test(cls)) return "vae";
  if (/unet/i.test(cls)) return "unet";
  if (/clip/i.test(cls) || config.model_type === "clip_text_model") return "text_encoder";
  return null;
}

function openFile(file: string, config: Record<string, unknown> | null, part: ModelPart | null, options: OpenWeightsOptions): OpenedWeights {
  const base = { weightsFile: file, config, part, checkpointInfo: {} };
  const head = sniff(file);
  if (sniffPth(head) !== null) return { ...base, ...openTorch(file, options) };
  if (looksLikeSafetensors(head)) return { ...base, layout: "safetensors", stateDict: stateDictFromSafetensors(SafetensorsFile.open(file)) };
  throw new WeightsError(`${file}: neither a safetensors file nor a torch.save checkpoint (zip or legacy pickle)`);
}

function sniff(file: string): Uint8Array {
  const head = new Uint8Array(16);
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw new WeightsError(`${file}: cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return head.subarray(0, readSync(fd, head, 0, head.length, 0));
  } finally {
    closeSync(fd);
  }
}

/** 8-byte little-endian header length, then the JSON header's "{". */
function looksLikeSafetensors(head: Uint8Array): boolean {
  return head.length >= 9 && head[8] === 0x7b && head[6] === 0 && head[7] === 0;
}

function openTorch(file: string, options: OpenWeightsOptions): Pick<OpenedWeights, "layout" | "stateDict" | "checkpointInfo"> {
  const pth = PthFile.open(file, { unknownGlobals: options.unknownGlobals });
  try {
    const top = pth.value;
    const stateDict = top instanceof Map ? top.get("state_dict") : undefined;
    if (stateDict instanceof Map) {
      const info: Record<string, string | number> = {};
      for (const key of ["epoch", "global_step", "pytorch-lightning_version"]) {
        const v = (top as Map<unknown, PickleValue>).get(key);
        if (typeof v === "number" || typeof v === "string") info[key] = v;
      }
      return { layout: "lightning", stateDict: stateDictFromTorch(file, stateDict, () => pth.close()), checkpointInfo: info };
    }
    if (top instanceof Map && top.size > 0 && [...top.values()].every((v) => v instanceof TorchTensor)) {
      return { layout: "torch", stateDict: stateDictFromTorch(file, top, () => pth.close()), checkpointInfo: {} };
    }
    const keys = top instanceof Map ? [...top.keys()].slice(0, 8).map((k) => JSON.stringify(k)).join(", ") : "";
    throw new WeightsError(
      `${file}: holds a ${describePickleValue(top)}${keys ? ` (keys ${keys})` : ""}, not a state dict (name -> tensor) or a Lightning checkpoint ("state_dict")`,
    );
  } catch (e) {
    pth.close();
    throw e;
  }
}

function selectPart(weights: StateDict, opened: OpenedWeights, options: OpenWeightsOptions): StateDict {
  const prefix = options.prefix ?? (options.part !== undefined ? `${options.part}.` : "");
  if (prefix === "") return weights;
  const selected = weights.withPrefix(prefix);
  if (selected.size > 0) return selected;
  // a part names what the weights are; only a checkpoint of several parts must carry its prefix
  if (options.prefix === undefined && opened.layout !== "lightning") return weights;
  const parts = [...weights.prefixCounts()].map(([p, n]) => `${p} (${n})`).join(", ");
  throw new WeightsError(`${opened.weightsFile}: no tensors under the prefix "${prefix}"; the names start with: ${parts || "nothing (no tensors)"}`);
}
