// The CLIP text transformer (Radford et al. 2021, section 2.4): token + position embeddings, pre-LN
// transformer layers with causal self-attention, a final LayerNorm. Parameter names are the Hugging Face
// CLIPTextModel state-dict keys (`text_model.embeddings.token_embedding.weight`, ...,
// `text_model.encoder.layers.N.self_attn.q_proj.weight`, ..., `text_model.final_layer_norm.weight`), so
// SD checkpoints load by name. Forward as in models-spec.md section 6.2:
//
//   x = token_embedding[ids] + position_embedding[0..L-1]                   [B, L, C]
//   per layer:  x = x + out_proj(MHA(layer_norm1(x), causal mask))          q/k/v/out with bias, scale D^-0.5
//               x = x + fc2(act(fc1(layer_norm2(x))))
//   last_hidden_state = final_layer_norm(x)
//
// Which hidden state SD conditions on. SD 1.x: last_hidden_state of its 12 layers. SD 2.x: OpenCLIP
// ViT-H's *penultimate* layer followed by ln_final (FrozenOpenCLIPEmbedder, layer="penultimate"); the HF
// conversion of SD 2.x keeps only 23 of the 24 layers, so with that checkpoint the default output (all 23
// layers + final LN) is exactly it. `layers: -1` (skip the last layer) with `finalLayerNorm: true` gives
// the same tensor from a full 24-layer tower, and is diffusers' `clip_skip = 1`.

import { type Dim, Graph, type Value, ops } from "../../graph/index.js";
import * as nn from "../../nn/index.js";
import { Tensor } from "../../tensor/tensor.js";
import { type ClipActivation, type ClipTextConfig, ClipConfigError, validateClipTextConfig } from "./config.js";

/** Keys CLIP checkpoints may hold that the model does not use (an arange buffer, persistent before transformers 4.31). */
export const CLIP_TEXT_IGNORED_KEYS: readonly string[] = ["text_model.embeddings.position_ids"];

/** Name of the graph input: token ids, int64 [B, L]. */
export const CLIP_INPUT_IDS = "input_ids";

/**
 * The logit added above the diagonal of the causal mask: float32's lowest finite value, as transformers
 * uses. exp(lowest - max) underflows to exactly 0, so a row's allowed entries get exactly the softmax they
 * would get alone; finite, it keeps gradients free of inf - inf.
 */
const MASKED_LOGIT = -3.4028234663852886e38;

export interface ClipHiddenStates {
  /**
   * transformers' `hidden_states`: [0] the embeddings, [n] the output of layer n (1-based), each [B, L, C],
   * none with the final LayerNorm.
   */
  hiddenStates: Value[];
  /** Applies `text_model.final_layer_norm` to one of them. */
  finalLayerNorm: (x: Value) => Value;
}

/** The additive causal mask [L, L]: 0 where key j <= query i, MASKED_LOGIT above the diagonal. */
export function causalMask(g: Graph, length: number): Value {
  const data = new Float32Array(length * length);
  for (let i = 0; i < length; i++) for (let j = i + 1; j < length; j++) data[i * length + j] = MASKED_LOGIT;
  return g.constant(new Tensor("float32", data, [length, length]));
}

function activation(x: Value, act: ClipActivation, name: string): Value {
  switch (act) {
    case "gelu":
      return ops.gelu(x, "exact", name);
    case "quick_gelu":
      // Hendrycks & Gimpel (2016), section 2: the sigmoid approximation x * sigmoid(1.702 x), as OpenAI CLIP.
      return ops.mul(x, ops.sigmoid(ops.mul(x, 1.702)), name);
    case "gelu_new":
    case "gelu_pytorch_tanh":
      return ops.gelu(x, "tanh", name);
  }
}

/** One pre-LN transformer layer (scope `text_model.encoder.layers.N`) on x [B, L, C]. */
function encoderLayer(s: nn.Scope, x: Value, c: ClipTextConfig, mask: Value): Value {
  const [b, l] = x.shape as [Dim, number, number];
  const width = c.hiddenSize;
  const heads = c.numAttentionHeads;
  const headDim = width / heads;

  // Causal multi-head self-attention; channel c = head * D + d, as PyTorch's view(B, L, H, D).
  const normed = nn.layerNorm(s.child("layer_norm1"), x, width, c.layerNormEps);
  const attn = s.child("self_attn");
  const splitHeads = (t: Value) => ops.transpose(ops.reshape(t, [b, l, heads, headDim]), [0, 2, 1, 3]); // [B, H, L, D]
  const q = splitHeads(nn.linear(attn.child("q_proj"), normed, width, width));
  const k = splitHeads(nn.linear(attn.child("k_proj"), normed, width, width));
  const v = splitHeads(nn.linear(attn.child("v_proj"), normed, width, width));
  const attended = ops.scaledDotProductAttention(q, k, v, { scale: headDim ** -0.5, mask, name: attn.prefix }); // [B, H, L, D]
  const merged = ops.reshape(ops.transpose(attended, [0, 2, 1, 3]), [b, l, width]); // [B, L, C]
  x = ops.add(x, nn.linear(attn.child("out_proj"), merged, width, width));

  const mlp = s.child("mlp");
  const hidden = nn.linear(mlp.child("fc1"), nn.layerNorm(s.child("layer_norm2"), x, width, c.layerNormEps), width, c.intermediateSize); // [B, L, 4C]
  return ops.add(x, nn.linear(mlp.child("fc2"), activation(hidden, c.hiddenAct, mlp.name("act")), c.intermediateSize, width));
}

/**
 * Builds the transformer on `ids` (int64 [B, L], L <= maxPositionEmbeddings) and declares all of its
 * parameters under `scope` + "text_model." (the default scope has no prefix and float32 parameters; a
 * scope "text_encoder" reads ModelT2V.pth's keys as they are). Returns every hidden state; nodes no
 * output uses are not emitted.
 */
export function clipTextTransformer(ids: Value, config: ClipTextConfig, scope: nn.Scope = new nn.Scope(ids.graph)): ClipHiddenStates {
  const c = validateClipTextConfig(config);
  if (scope.graph !== ids.graph) throw new ClipConfigError("CLIP text transformer: the scope and the ids belong to different graphs");
  if (ids.rank !== 2 || (ids.dtype !== "int64" && ids.dtype !== "int32")) {
    throw new ClipConfigError(`CLIP text transformer: ids must be int64 [B, L], got ${ids.describe()}`);
  }
  const length = ids.shape[1]!;
  if (typeof length !== "number" || length < 1 || length > c.maxPositionEmbeddings) {
    throw new ClipConfigError(
      `CLIP text transformer: sequence length ${length} of ids ${ids.describe()} must be a number from 1 to maxPositionEmbeddings ${c.maxPositionEmbeddings}`,
    );
  }
  const width = c.hiddenSize;
  const s = scope.child("text_model");
  const embeddings = s.child("embeddings");
  const tokenEmbedding = embeddings.child("token_embedding").param("weight", [c.vocabSize, width]);
  const positionEmbedding = embeddings.child("position_embedding").param("weight", [c.maxPositionEmbeddings, width]);
  const positions = length === c.maxPositionEmbeddings ? positionEmbedding : ops.slice(positionEmbedding, 0, 0, length); // [L, C]
  let x = ops.add(ops.gather(tokenEmbedding, ids, 0, embeddings.name("token_embedding")), positions); // [B, L, C]

  const mask = ops.cast(causalMask(ids.graph, length), scope.dtype); // float16: the masked logit becomes -inf, still exact
  const hiddenStates = [x];
  const layers = s.child("encoder").child("layers");
  for (let n = 0; n < c.numHiddenLayers; n++) {
    x = encoderLayer(layers.child(n), x, c, mask);
    hiddenStates.push(x);
  }
  const finalScope = s.child("final_layer_norm");
  const finalWeight = finalScope.param("weight", [width]);
  const finalBias = finalScope.param("bias", [width]);
  const finalLayerNorm = (h: Value) => ops.layerNorm(h, finalWeight, finalBias, { eps: c.layerNormEps, name: finalScope.prefix });
  return { hiddenStates, finalLayerNorm };
}

/** One output of the text encoder graph. */
export interface ClipTextOutput {
  /**
   * How many layers run before the output is read: 0 (the embeddings) to numHiddenLayers, or a negative
   * number of trailing layers to skip (-1: the penultimate layer, diffusers' clip_skip = 1). Default: all.
   */
  layers?: number;
  /** Apply final_layer_norm (default true: HF last_hidden_state, diffusers' clip_skip and OpenCLIP all do). */
  finalLayerNorm?: boolean;
}

export interface ClipTextGraphOptions {
  /** Batch dimension of the ids: a number or a symbol; default "B". */
  batch?: Dim;
  /** Sequence length of the ids; default maxPositionEmbeddings (77). */
  sequenceLength?: number;
  /** Graph outputs by name; default `{ last_hidden_state: {} }`: every layer, then the final LayerNorm. */
  outputs?: Readonly<Record<string, ClipTextOutput>>;
  /** Graph name; default "clip_text". */
  name?: string;
  /** Key prefix before `text_model.`, e.g. "text_encoder" for ModelT2V.pth; default none. */
  prefix?: string;
  /** Parameter dtype; default float32 (float16 weights then need no conversion). */
  dtype?: "float32" | "float16";
}

/** The number of layers an output's `layers` field asks for, checked against the config. */
export function resolveClipLayers(layers: number | undefined, numHiddenLayers: number, field = "layers"): number {
  if (layers === undefined) return numHiddenLayers;
  const n = layers < 0 ? numHiddenLayers + layers : layers;
  if (!Number.isInteger(layers) || n < 0 || n > numHiddenLayers) {
    throw new ClipConfigError(
      `${field} must be an integer from ${-numHiddenLayers} to ${numHiddenLayers} (negative: layers skipped from the end), got ${layers}`,
    );
  }
  return n;
}

/**
 * An inference graph (parameters frozen) with input `input_ids` (int64 [batch, L]) and one [batch, L, C]
 * output per entry of `outputs`, of the parameter dtype; built into `g` when given.
 */
export function clipTextEncoderGraph(config: ClipTextConfig, opts: ClipTextGraphOptions = {}, g: Graph = new Graph(opts.name ?? "clip_text")): Graph {
  const length = opts.sequenceLength ?? config.maxPositionEmbeddings;
  const ids = g.input(CLIP_INPUT_IDS, "int64", [opts.batch ?? "B", length]);
  const { hiddenStates, finalLayerNorm } = clipTextTransformer(ids, config, new nn.Scope(g, opts.prefix ?? "", opts.dtype ?? "float32", false));
  const outputs = opts.outputs ?? { last_hidden_state: {} };
  const names = Object.keys(outputs);
  if (names.length === 0) throw new ClipConfigError("outputs must name at least one output");
  for (const name of names) {
    const spec = outputs[name]!;
    const h = hiddenStates[resolveClipLayers(spec.layers, config.numHiddenLayers, `outputs.${name}.layers`)]!;
    g.output(name, spec.finalLayerNorm === false ? h : finalLayerNorm(h));
  }
  return g;
}

/** The parameter names and shapes of the text encoder (the checkpoint's keys, less CLIP_TEXT_IGNORED_KEYS). */
export function clipTextParamShapes(config: ClipTextConfig): Map<string, readonly number[]> {
  const g = clipTextEncoderGraph(config);
  return new Map(g.paramList().map(({ value }) => [value.name, value.shape as number[]]));
}

/**
 * Every problem of a checkpoint's text-encoder keys against the config: missing keys, wrong shapes, and
 * keys the model does not know (position_ids is accepted and ignored). Empty when it loads.
 */
export function clipTextWeightProblems(config: ClipTextConfig, weights: ReadonlyMap<string, { readonly shape: readonly number[] }>): string[] {
  const expected = clipTextParamShapes(config);
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const t = weights.get(name);
    if (!t) problems.push(`missing ${name} [${shape.join(", ")}]`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      problems.push(`${name}: expected shape [${shape.join(", ")}], got [${t.shape.join(", ")}]`);
    }
  }
  for (const name of weights.keys()) {
    if (!expected.has(name) && !CLIP_TEXT_IGNORED_KEYS.includes(name)) problems.push(`unexpected key ${name}`);
  }
  return problems;
}
