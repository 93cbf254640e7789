// Configuration of Stable Diffusion's AutoencoderKL (Rombach et al. 2022, section 3.1) and of the VidRD
// temporal decoder, read from the fields of a diffusers `vae/config.json`. Fields the file leaves out take
// diffusers' AutoencoderKL defaults, as diffusers does; `add_temp_conv` is the authors' flag
// (models-spec.md section 1.2) and `temp_norm_num_groups` ours (the authors hard-code 32).

export interface VaeConfig {
  /** Image channels in, `in_channels`: 3. */
  inChannels: number;
  /** Image channels out, `out_channels`: 3. */
  outChannels: number;
  /** Latent channels, `latent_channels`: 4. The encoder emits twice as many (mean and log-variance). */
  latentChannels: number;
  /**
   * Channels per resolution level, `block_out_channels`: [128, 256, 512, 512] in SD. The encoder walks
   * it forwards, the decoder backwards; images are 2^(levels - 1) times larger than latents.
   */
  blockOutChannels: readonly number[];
  /** ResNets per encoder block, `layers_per_block`: 2 in SD; decoder blocks have one more. */
  layersPerBlock: number;
  /** GroupNorm groups of the 2-D layers, `norm_num_groups`: 32 (eps is 1e-6 throughout the 2-D VAE). */
  normNumGroups: number;
  /** Image size the model was trained at, `sample_size`: informational (256 for VidRD, 512/768 for SD). */
  sampleSize: number;
  /** Latents the diffusion model sees are VAE latents times this, `scaling_factor`: 0.18215. */
  scalingFactor: number;
  /** The authors' temporal decoder: a temporal conv after every decoder ResNet, `add_temp_conv`. */
  addTempConv: boolean;
  /** GroupNorm groups of the temporal convs, `temp_norm_num_groups`: 32, as the authors hard-code it. */
  tempNormNumGroups: number;
}

/** diffusers' AutoencoderKL defaults: what a config.json that omits a field means. */
export const VAE_DEFAULTS: Readonly<VaeConfig> = Object.freeze({
  inChannels: 3,
  outChannels: 3,
  latentChannels: 4,
  blockOutChannels: Object.freeze([64]),
  layersPerBlock: 1,
  normNumGroups: 32,
  sampleSize: 32,
  scalingFactor: 0.18215,
  addTempConv: false,
  tempNormNumGroups: 32,
});

/** SD 2.1(-base) `vae/config.json` (models-spec.md section 1.2). */
export const SD21_VAE: Readonly<VaeConfig> = Object.freeze({
  ...VAE_DEFAULTS,
  blockOutChannels: Object.freeze([128, 256, 512, 512]),
  layersPerBlock: 2,
  sampleSize: 768,
});

/** The authors' `vae_finetuned`: SD 2.1's VAE plus the temporal decoder, trained at 256 x 256. */
export const VIDRD_TEMPORAL_VAE: Readonly<VaeConfig> = Object.freeze({ ...SD21_VAE, sampleSize: 256, addTempConv: true });

/** Epsilon of every GroupNorm in the 2-D VAE (diffusers' Encoder/Decoder, resnet_eps). */
export const VAE_NORM_EPS = 1e-6;
/** Epsilon of the temporal convs' GroupNorms (PyTorch's default; the authors do not set it). */
export const VAE_TEMPORAL_NORM_EPS = 1e-5;
/** GroupNorm -> SiLU -> Conv3d repeats in each of the decoder's temporal convs (models-spec.md 5.2). */
export const VAE_TEMPORAL_REPEATS = 3;

export class VaeConfigError extends Error {
  override name = "VaeConfigError";
}

const INTEGER_FIELDS = [
  ["in_channels", "inChannels"],
  ["out_channels", "outChannels"],
  ["latent_channels", "latentChannels"],
  ["layers_per_block", "layersPerBlock"],
  ["norm_num_groups", "normNumGroups"],
  ["temp_norm_num_groups", "tempNormNumGroups"],
] as const;

function isPositiveInteger(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1;
}

/** Checks fields that only the file has (block types, activation, layout switches of newer diffusers). */
function fileOnlyProblems(raw: Record<string, unknown>, levels: number): string[] {
  const problems: string[] = [];
  for (const [field, wanted] of [["down_block_types", "DownEncoderBlock2D"], ["up_block_types", "UpDecoderBlock2D"]] as const) {
    const v = raw[field];
    if (v === undefined) continue;
    if (!Array.isArray(v) || v.length !== levels || v.some((t) => t !== wanted)) {
      problems.push(`${field} must list "${wanted}" once per block_out_channels entry (${levels}), got ${JSON.stringify(v)}`);
    }
  }
  if (raw.act_fn !== undefined && raw.act_fn !== "silu") problems.push(`act_fn must be "silu", got ${JSON.stringify(raw.act_fn)}`);
  for (const field of ["use_quant_conv", "use_post_quant_conv", "mid_block_add_attention"]) {
    if (raw[field] !== undefined && raw[field] !== true) problems.push(`${field} must be true (the Stable Diffusion layout), got ${JSON.stringify(raw[field])}`);
  }
  return problems;
}

/**
 * Reads a parsed `vae/config.json` (snake_case diffusers fields). Every problem is reported at once, each
 * naming the field, its value and what is allowed.
 */
export function vaeConfigFromJson(json: unknown, label = "vae/config.json"): VaeConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new VaeConfigError(`${label}: expected a JSON object, got ${Array.isArray(json) ? "an array" : String(json)}`);
  }
  const raw = json as Record<string, unknown>;
  const problems: string[] = [];
  const config: VaeConfig = { ...VAE_DEFAULTS };
  for (const [field, key] of INTEGER_FIELDS) {
    const v = raw[field];
    if (v === undefined) continue;
    if (!isPositiveInteger(v)) problems.push(`${field} must be a positive integer, got ${JSON.stringify(v)}`);
    else config[key] = v;
  }
  const channels = raw.block_out_channels;
  if (channels !== undefined) {
    if (!Array.isArray(channels) || channels.length === 0 || !channels.every(isPositiveInteger)) {
      problems.push(`block_out_channels must be a non-empty list of positive integers, got ${JSON.stringify(channels)}`);
    } else config.blockOutChannels = [...channels];
  }
  const size = raw.sample_size;
  if (size !== undefined) {
    // diffusers allows [height, width]; the first entry is enough for what it documents here
    const first = Array.isArray(size) ? size[0] : size;
    if (!isPositiveInteger(first)) problems.push(`sample_size must be a positive integer or [height, width], got ${JSON.stringify(size)}`);
    else config.sampleSize = first;
  }
  const scale = raw.scaling_factor;
  if (scale !== undefined && scale !== null) {
    if (typeof scale !== "number" || !Number.isFinite(scale) || scale <= 0) problems.push(`scaling_factor must be a positive number, got ${JSON.stringify(scale)}`);
    else config.scalingFactor = scale;
  }
  const temporal = raw.add_temp_conv;
  if (temporal !== undefined) {
    if (typeof temporal !== "boolean") problems.push(`add_temp_conv must be true or false, got ${JSON.stringify(temporal)}`);
    else config.addTempConv = temporal;
  }
  problems.push(...fileOnlyProblems(raw, config.blockOutChannels.length));
  if (problems.length === 0) problems.push(...vaeConfigProblems(config, true));
  if (problems.length) throw new VaeConfigError(`${label}: ${problems.join("; ")}`);
  return config;
}

/** Checks a config given in code (camelCase); throws naming the field. */
export function validateVaeConfig(config: VaeConfig): VaeConfig {
  const problems = vaeConfigProblems(config, false);
  if (problems.length) throw new VaeConfigError(`VAE config: ${problems.join("; ")}`);
  return config;
}

function vaeConfigProblems(c: VaeConfig, snake: boolean): string[] {
  const name = (camel: string, snakeName: string) => (snake ? snakeName : camel);
  const problems: string[] = [];
  for (const [field, key] of INTEGER_FIELDS) {
    if (!isPositiveInteger(c[key])) problems.push(`${name(key, field)} must be a positive integer, got ${JSON.stringify(c[key])}`);
  }
  if (!Array.isArray(c.blockOutChannels) || c.blockOutChannels.length === 0 || !c.blockOutChannels.every(isPositiveInteger)) {
    problems.push(`${name("blockOutChannels", "block_out_channels")} must be a non-empty list of positive integers, got ${JSON.stringify(c.blockOutChannels)}`);
    return problems;
  }
  if (!(c.scalingFactor > 0) || !Number.isFinite(c.scalingFactor)) {
    problems.push(`${name("scalingFactor", "scaling_factor")} must be a positive number, got ${c.scalingFactor}`);
  }
  if (typeof c.addTempConv !== "boolean") problems.push(`${name("addTempConv", "add_temp_conv")} must be a boolean, got ${JSON.stringify(c.addTempConv)}`);
  const groupsField = name("normNumGroups", "norm_num_groups");
  const bad = c.blockOutChannels.filter((ch) => ch % c.normNumGroups !== 0);
  if (bad.length) problems.push(`${groupsField} ${c.normNumGroups} must divide every block_out_channels entry; ${bad.join(", ")} do not divide`);
  if (c.addTempConv) {
    const badTemporal = c.blockOutChannels.filter((ch) => ch % c.tempNormNumGroups !== 0);
    if (badTemporal.length) {
      problems.push(
        `${name("tempNormNumGroups", "temp_norm_num_groups")} ${c.tempNormNumGroups} must divide every block_out_channels entry when ` +
          `add_temp_conv is on; ${badTemporal.join(", ")} do not divide`,
      );
    }
  }
  return problems;
}

/** How many times larger the image is than the latent per side: 2^(levels - 1) (8 for SD). */
export function vaeSpatialFactor(c: VaeConfig): number {
  return 2 ** (c.blockOutChannels.length - 1);
}

/**
 * Temporal Conv3d layers along the decoder (levels x (layers_per_block + 1) x 3; 36 for SD). Each (3,1,1)
 * kernel reaches one frame further, so through the convolutions a decoded frame depends on latent frames
 * up to this many frames away. The temporal GroupNorms reach every frame of the clip (their statistics
 * span all frames), which is why chunked decoding (chunked.ts) cannot rely on a halo alone.
 */
export function temporalConvDepth(c: VaeConfig): number {
  return c.addTempConv ? c.blockOutChannels.length * (c.layersPerBlock + 1) * VAE_TEMPORAL_REPEATS : 0;
}
