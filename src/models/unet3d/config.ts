// UNet3D configuration: read from a diffusers-style config.json object, validated once, with errors that
// name the field (DESIGN.md). Two variants share the spatial layers and differ in the temporal ones
// (models-spec.md section 7):
// - "vidrd": the authors' UNet3DConditionModel (SD 2.1 UNet + temporal convs + temporal attention inside
//   every transformer block); its config.json is Stable Diffusion's plus the authors' add_temp_* flags;
// - "modelscope": diffusers' UNet3DConditionModel (text-to-video-ms-1.7b).
//
// Heads. Both classes read the field `attention_head_dim` through a historical misnomer, differently:
// - vidrd (like SD's UNet2DConditionModel): it is the NUMBER OF HEADS per block; SD 2.1's [5, 10, 20, 20]
//   gives 64 channels per head everywhere;
// - modelscope: blocks get heads = channels / value, so it is the channels per head (64); transformer_in
//   has 8 heads of that size.
// `num_attention_heads`, when present, is always the number of heads.

export type UNet3DVariant = "vidrd" | "modelscope";
export const UNET3D_VARIANTS: readonly UNet3DVariant[] = ["vidrd", "modelscope"];

export type DownBlockType = "CrossAttnDownBlock3D" | "DownBlock3D";
export type UpBlockType = "CrossAttnUpBlock3D" | "UpBlock3D";

export interface UNet3DConfig {
  variant: UNet3DVariant;
  /** Latent channels in and out (4). */
  inChannels: number;
  outChannels: number;
  /** Channels per resolution level, e.g. [320, 640, 1280, 1280]. */
  blockOutChannels: number[];
  /** ResNets per down block (up blocks have one more). */
  layersPerBlock: number;
  /** Attention heads per level (down order; up blocks use them reversed, the mid block the last). */
  heads: number[];
  /** Channels per head per level (heads * headDim = the level's channels). */
  headDims: number[];
  /** Text context channels (1024 for OpenCLIP ViT-H). */
  crossAttentionDim: number;
  /** proj_in / proj_out of the spatial transformers as Linear (true in SD 2.x) or 1x1 conv. */
  useLinearProjection: boolean;
  normNumGroups: number;
  /** Epsilon of the ResNet GroupNorms and conv_norm_out. */
  normEps: number;
  downBlockTypes: DownBlockType[];
  upBlockTypes: UpBlockType[];
  /** Default latent size (metadata only: the graph takes any H, W divisible by 2^(levels-1)). */
  sampleSize: number;
  flipSinToCos: boolean;
  freqShift: number;
  /** vidrd: sinusoidal frame embedding before each temporal attention (add_temp_embed; released: true). */
  frameEmbedding: boolean;
  /** vidrd: temporal convs after every ResNet (add_temp_conv; released: true). */
  temporalConv: boolean;
  /** vidrd: temporal attention in the transformers of "all" blocks, or only the "up" blocks. */
  temporalAttention: "all" | "up";
  /** modelscope: heads of transformer_in (8); its head size is headDims[0]. */
  transformerInHeads: number;
}

export class UNet3DConfigError extends Error {
  override name = "UNet3DConfigError";
}

type Json = Record<string, unknown>;

function fail(field: string, value: unknown, allowed: string): never {
  throw new UNet3DConfigError(`UNet3D config: ${field} is ${JSON.stringify(value)}; allowed: ${allowed}`);
}

function positiveInt(j: Json, field: string, dflt: number): number {
  const v = j[field] ?? dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) fail(field, v, "a positive integer");
  return v;
}

function nonNegative(j: Json, field: string, dflt: number): number {
  const v = j[field] ?? dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) fail(field, v, "a finite number >= 0");
  return v;
}

function bool(j: Json, field: string, dflt: boolean): boolean {
  const v = j[field] ?? dflt;
  if (typeof v !== "boolean") fail(field, v, "true or false");
  return v;
}

/** An int or a list of ints (one per level), expanded to `levels` entries. */
function perLevel(j: Json, field: string, v: unknown, levels: number): number[] {
  const list = typeof v === "number" ? Array(levels).fill(v) : v;
  if (!Array.isArray(list) || list.length !== levels || !list.every((x) => typeof x === "number" && Number.isInteger(x) && x > 0)) {
    fail(field, v, `a positive integer or a list of ${levels} positive integers (one per entry of block_out_channels)`);
  }
  return list as number[];
}

/** Fields that change the architecture in ways this implementation does not build: their only allowed value. */
const FIXED: Readonly<Record<string, unknown>> = {
  act_fn: "silu",
  center_input_sample: false,
  downsample_padding: 1,
  mid_block_scale_factor: 1,
  dual_cross_attention: false,
  only_cross_attention: false,
  num_class_embeds: null,
  class_embed_type: null,
  resnet_time_scale_shift: "default",
  time_cond_proj_dim: null,
  addition_embed_type: null,
  encoder_hid_dim: null,
  conv_in_kernel: 3,
  conv_out_kernel: 3,
  transformer_layers_per_block: 1,
  time_embedding_type: "positional",
  timestep_post_act: null,
  resnet_skip_time_act: false,
  resnet_out_scale_factor: 1,
  attention_type: "default",
  prepend_first_frame: false,
  add_temp_transformer: false,
};
const MID_BLOCK_TYPES = ["UNetMidBlock3DCrossAttn", "UNetMidBlock2DCrossAttn"];

// Class defaults of the two constructors, used for absent fields.
const DEFAULTS: Record<UNet3DVariant, { crossAttentionDim: number; attentionHeadDim: number; useLinearProjection: boolean }> = {
  vidrd: { crossAttentionDim: 1280, attentionHeadDim: 8, useLinearProjection: false },
  modelscope: { crossAttentionDim: 1024, attentionHeadDim: 64, useLinearProjection: true },
};
const DEFAULT_CHANNELS = [320, 640, 1280, 1280];

function blockTypes<T extends string>(j: Json, field: string, levels: number, dflt: T[], map: Record<string, T>): T[] {
  const v = j[field] ?? dflt;
  const allowed = Object.keys(map).join(", ");
  if (!Array.isArray(v) || v.length !== levels) fail(field, v, `a list of ${levels} block types (one per entry of block_out_channels) from ${allowed}`);
  return v.map((t, i) => {
    const kind = typeof t === "string" ? map[t] : undefined;
    if (!kind) fail(`${field}[${i}]`, t, allowed);
    return kind;
  });
}

/**
 * Validates a diffusers-style UNet config object (SD's unet/config.json, the authors' flags, or diffusers'
 * UNet3DConditionModel config) into a UNet3DConfig. `variant` comes from the argument or the field "variant".
 */
export function parseUNet3DConfig(json: unknown, variant?: UNet3DVariant): UNet3DConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail("(config)", json, "a JSON object");
  const j = json as Json;
  const v = variant ?? j.variant;
  if (typeof v !== "string" || !(UNET3D_VARIANTS as readonly string[]).includes(v)) fail("variant", v, UNET3D_VARIANTS.join(", "));
  const kind = v as UNet3DVariant;
  for (const [field, only] of Object.entries(FIXED)) {
    const given = j[field];
    const allFalse = only === false && Array.isArray(given) && given.every((x) => x === false); // per-block lists
    if (given !== undefined && given !== only && !allFalse) fail(field, given, `${JSON.stringify(only)} (the only value vidrd builds; other values are unsupported)`);
  }
  if ("mid_block_type" in j && !MID_BLOCK_TYPES.includes(j.mid_block_type as string)) fail("mid_block_type", j.mid_block_type, MID_BLOCK_TYPES.join(", "));
  if (j.upcast_attention !== undefined && typeof j.upcast_attention !== "boolean") fail("upcast_attention", j.upcast_attention, "true or false (no effect in float32)");

  const channels = j.block_out_channels ?? DEFAULT_CHANNELS;
  if (!Array.isArray(channels) || channels.length < 1 || !channels.every((c) => typeof c === "number" && Number.isInteger(c) && c > 0)) {
    fail("block_out_channels", channels, "a non-empty list of positive integers");
  }
  const blockOutChannels = channels as number[];
  const levels = blockOutChannels.length;
  const normNumGroups = positiveInt(j, "norm_num_groups", 32);
  blockOutChannels.forEach((c, i) => {
    if (c % normNumGroups !== 0) fail(`block_out_channels[${i}]`, c, `a multiple of norm_num_groups (${normNumGroups})`);
  });

  const d = DEFAULTS[kind];
  const rawHeads = j.num_attention_heads ?? null;
  let heads: number[];
  let headDims: number[];
  if (rawHeads !== null) {
    heads = perLevel(j, "num_attention_heads", rawHeads, levels);
    headDims = heads.map((h, i) => blockOutChannels[i]! / h);
  } else if (kind === "vidrd") {
    heads = perLevel(j, "attention_head_dim", j.attention_head_dim ?? d.attentionHeadDim, levels); // heads (SD quirk)
    headDims = heads.map((h, i) => blockOutChannels[i]! / h);
  } else {
    const raw = j.attention_head_dim ?? d.attentionHeadDim;
    if (typeof raw !== "number") fail("attention_head_dim", raw, "a positive integer for variant modelscope (channels per head; transformer_in uses it too)");
    headDims = perLevel(j, "attention_head_dim", raw, levels);
    heads = headDims.map((hd, i) => blockOutChannels[i]! / hd);
  }
  heads.forEach((h, i) => {
    if (!Number.isInteger(h) || !Number.isInteger(headDims[i])) {
      fail(rawHeads !== null ? "num_attention_heads" : "attention_head_dim", rawHeads ?? j.attention_head_dim, `values that divide block_out_channels [${blockOutChannels.join(", ")}]`);
    }
  });

  const downBlockTypes = blockTypes<DownBlockType>(j, "down_block_types", levels, [...Array(levels - 1).fill("CrossAttnDownBlock3D"), "DownBlock3D"], {
    CrossAttnDownBlock3D: "CrossAttnDownBlock3D",
    CrossAttnDownBlock2D: "CrossAttnDownBlock3D",
    DownBlock3D: "DownBlock3D",
    DownBlock2D: "DownBlock3D",
  });
  const upBlockTypes = blockTypes<UpBlockType>(j, "up_block_types", levels, ["UpBlock3D", ...Array(levels - 1).fill("CrossAttnUpBlock3D")], {
    CrossAttnUpBlock3D: "CrossAttnUpBlock3D",
    CrossAttnUpBlock2D: "CrossAttnUpBlock3D",
    UpBlock3D: "UpBlock3D",
    UpBlock2D: "UpBlock3D",
  });

  const temporalConv = bool(j, "add_temp_conv", true);
  if (kind === "vidrd" && temporalConv) {
    // The authors' TemporalConvLayer hard-codes GroupNorm(32, C).
    blockOutChannels.forEach((c, i) => {
      if (c % 32 !== 0) fail(`block_out_channels[${i}]`, c, "a multiple of 32 (the authors' temporal convs use GroupNorm(32)), or add_temp_conv false");
    });
  }
  const onlyUp = bool(j, "add_temp_attn_only_on_upblocks", false);
  const flipSinToCos = bool(j, "flip_sin_to_cos", true);
  const freqShift = nonNegative(j, "freq_shift", 0);
  if (freqShift >= blockOutChannels[0]! / 2) fail("freq_shift", freqShift, `below half of block_out_channels[0] (${blockOutChannels[0]! / 2})`);
  const normEps = nonNegative(j, "norm_eps", 1e-5);
  if (normEps === 0) fail("norm_eps", normEps, "a positive number");

  const crossAttentionDim = positiveInt(j, "cross_attention_dim", d.crossAttentionDim);
  const useLinearProjection = bool(j, "use_linear_projection", d.useLinearProjection);
  if (kind === "modelscope" && !useLinearProjection) fail("use_linear_projection", false, "true for variant modelscope (diffusers' UNet3DConditionModel always projects with Linear)");
  return {
    variant: kind,
    inChannels: positiveInt(j, "in_channels", 4),
    outChannels: positiveInt(j, "out_channels", 4),
    blockOutChannels,
    layersPerBlock: positiveInt(j, "layers_per_block", 2),
    heads,
    headDims,
    crossAttentionDim,
    useLinearProjection,
    normNumGroups,
    normEps,
    downBlockTypes,
    upBlockTypes,
    sampleSize: positiveInt(j, "sample_size", 32),
    flipSinToCos,
    freqShift,
    frameEmbedding: kind === "vidrd" && bool(j, "add_temp_embed", true),
    temporalConv: kind === "modelscope" || temporalConv,
    temporalAttention: onlyUp ? "up" : "all",
    transformerInHeads: 8,
  };
}

// The UNet of Stable Diffusion 2.1-base (models-spec.md 1.1), shared by both released video models.
const SD21_BASE_UNET = {
  in_channels: 4,
  out_channels: 4,
  block_out_channels: [320, 640, 1280, 1280],
  layers_per_block: 2,
  cross_attention_dim: 1024,
  norm_num_groups: 32,
  norm_eps: 1e-5,
  down_block_types: ["CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"],
  up_block_types: ["UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"],
  sample_size: 32,
} as const;

/** SD 2.1-base's unet/config.json with the authors' overrides (3-D blocks, 256 px, released add_temp_* flags). */
export const SD21_BASE_VIDRD_CONFIG = {
  ...SD21_BASE_UNET,
  variant: "vidrd",
  attention_head_dim: [5, 10, 20, 20],
  use_linear_projection: true,
  upcast_attention: false,
  flip_sin_to_cos: true,
  freq_shift: 0,
  add_temp_embed: true,
  add_temp_conv: true,
} as const;

/** diffusers' UNet3DConditionModel() defaults: ModelScope text-to-video-ms-1.7b. */
export const MODELSCOPE_T2V_CONFIG = { ...SD21_BASE_UNET, variant: "modelscope", attention_head_dim: 64 } as const;
