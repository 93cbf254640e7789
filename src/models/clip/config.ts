// Configuration of the CLIP text transformer (Radford et al. 2021, section 2.4), read from the fields of a
// Hugging Face `text_encoder/config.json` (transformers CLIPTextConfig). Fields the file leaves out take
// CLIPTextConfig's own defaults, as transformers does; projection_dim and the token ids in the file are not
// used by the text transformer (the tokenizer owns the token ids).

/** Activations CLIP checkpoints name in `hidden_act`. */
export const CLIP_ACTIVATIONS = ["gelu", "quick_gelu", "gelu_new", "gelu_pytorch_tanh"] as const;
export type ClipActivation = (typeof CLIP_ACTIVATIONS)[number];

export interface ClipTextConfig {
  /** Token embedding rows, `vocab_size`: 49408 for every SD text encoder (BPE vocab + 2 special tokens). */
  vocabSize: number;
  /** Model width C, `hidden_size`: 1024 for SD 2.x (OpenCLIP ViT-H/14), 768 for SD 1.x (OpenAI ViT-L/14). */
  hiddenSize: number;
  /** MLP width, `intermediate_size`: 4096 (SD 2.x), 3072 (SD 1.x). */
  intermediateSize: number;
  /** Transformer layers, `num_hidden_layers`: 23 for SD 2.x (OpenCLIP's 24 minus the last), 12 for SD 1.x. */
  numHiddenLayers: number;
  /** Attention heads, `num_attention_heads`: 16 (SD 2.x), 12 (SD 1.x); head dim = hiddenSize / heads = 64. */
  numAttentionHeads: number;
  /** Position embedding rows, `max_position_embeddings`: 77, the context length. */
  maxPositionEmbeddings: number;
  /**
   * MLP activation, `hidden_act`: "gelu" (exact, erf; SD 2.x), "quick_gelu" (x * sigmoid(1.702 x); SD 1.x,
   * OpenAI CLIP), "gelu_new" / "gelu_pytorch_tanh" (the tanh approximation).
   */
  hiddenAct: ClipActivation;
  /** LayerNorm epsilon, `layer_norm_eps`: 1e-5. */
  layerNormEps: number;
}

/** transformers' CLIPTextConfig defaults: what a config.json that omits a field means. */
export const CLIP_TEXT_DEFAULTS: Readonly<ClipTextConfig> = Object.freeze({
  vocabSize: 49408,
  hiddenSize: 512,
  intermediateSize: 2048,
  numHiddenLayers: 12,
  numAttentionHeads: 8,
  maxPositionEmbeddings: 77,
  hiddenAct: "quick_gelu",
  layerNormEps: 1e-5,
});

/** SD 2.1(-base) `text_encoder/config.json` (models-spec.md section 1.3). */
export const SD21_TEXT_ENCODER: Readonly<ClipTextConfig> = Object.freeze({
  vocabSize: 49408,
  hiddenSize: 1024,
  intermediateSize: 4096,
  numHiddenLayers: 23,
  numAttentionHeads: 16,
  maxPositionEmbeddings: 77,
  hiddenAct: "gelu",
  layerNormEps: 1e-5,
});

/** SD 1.x `text_encoder/config.json` (OpenAI CLIP ViT-L/14 text tower). */
export const SD15_TEXT_ENCODER: Readonly<ClipTextConfig> = Object.freeze({
  vocabSize: 49408,
  hiddenSize: 768,
  intermediateSize: 3072,
  numHiddenLayers: 12,
  numAttentionHeads: 12,
  maxPositionEmbeddings: 77,
  hiddenAct: "quick_gelu",
  layerNormEps: 1e-5,
});

export class ClipConfigError extends Error {
  override name = "ClipConfigError";
}

const INTEGER_FIELDS = [
  ["vocab_size", "vocabSize"],
  ["hidden_size", "hiddenSize"],
  ["intermediate_size", "intermediateSize"],
  ["num_hidden_layers", "numHiddenLayers"],
  ["num_attention_heads", "numAttentionHeads"],
  ["max_position_embeddings", "maxPositionEmbeddings"],
] as const;

/**
 * Reads a parsed `text_encoder/config.json` (snake_case HF fields). Every problem is reported at once,
 * each naming the field, its value and what is allowed.
 */
export function clipTextConfigFromJson(json: unknown, label = "text_encoder/config.json"): ClipTextConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ClipConfigError(`${label}: expected a JSON object, got ${Array.isArray(json) ? "an array" : String(json)}`);
  }
  const raw = json as Record<string, unknown>;
  const problems: string[] = [];
  const config: ClipTextConfig = { ...CLIP_TEXT_DEFAULTS };
  for (const [field, key] of INTEGER_FIELDS) {
    const v = raw[field];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) problems.push(`${field} must be a positive integer, got ${JSON.stringify(v)}`);
    else config[key] = v;
  }
  const act = raw.hidden_act;
  if (act !== undefined) {
    if (typeof act !== "string" || !(CLIP_ACTIVATIONS as readonly string[]).includes(act)) {
      problems.push(`hidden_act must be one of ${CLIP_ACTIVATIONS.map((a) => `"${a}"`).join(", ")}, got ${JSON.stringify(act)}`);
    } else config.hiddenAct = act as ClipActivation;
  }
  const eps = raw.layer_norm_eps;
  if (eps !== undefined) {
    if (typeof eps !== "number" || !(eps > 0) || !Number.isFinite(eps)) problems.push(`layer_norm_eps must be a positive number, got ${JSON.stringify(eps)}`);
    else config.layerNormEps = eps;
  }
  if (problems.length === 0) problems.push(...clipTextConfigProblems(config, true));
  if (problems.length) throw new ClipConfigError(`${label}: ${problems.join("; ")}`);
  return config;
}

/** Checks a config given in code (camelCase); throws naming the field. */
export function validateClipTextConfig(config: ClipTextConfig): ClipTextConfig {
  const problems = clipTextConfigProblems(config, false);
  if (problems.length) throw new ClipConfigError(`CLIP text config: ${problems.join("; ")}`);
  return config;
}

function clipTextConfigProblems(c: ClipTextConfig, hfNames: boolean): string[] {
  const problems: string[] = [];
  if (!hfNames) {
    for (const [, key] of INTEGER_FIELDS) {
      if (!Number.isInteger(c[key]) || c[key] < 1) problems.push(`${key} must be a positive integer, got ${c[key]}`);
    }
    if (!(CLIP_ACTIVATIONS as readonly string[]).includes(c.hiddenAct)) {
      problems.push(`hiddenAct must be one of ${CLIP_ACTIVATIONS.join(", ")}, got ${String(c.hiddenAct)}`);
    }
    if (!(c.layerNormEps > 0)) problems.push(`layerNormEps must be positive, got ${c.layerNormEps}`);
    if (problems.length) return problems;
  }
  if (c.hiddenSize % c.numAttentionHeads !== 0) {
    const [hidden, heads] = hfNames ? ["hidden_size", "num_attention_heads"] : ["hiddenSize", "numAttentionHeads"];
    problems.push(`${hidden} ${c.hiddenSize} must be a multiple of ${heads} ${c.numAttentionHeads}`);
  }
  return problems;
}
