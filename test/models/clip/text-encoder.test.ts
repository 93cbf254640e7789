// The CLIP text encoder against a PyTorch reference (test/fixtures/clip/text-encoder.safetensors, written by
// tools/fixtures/clip_fixture.py, which documents the model and the outputs), and its key map against the
// SD 2.1 text encoder's keys (test/fixtures/clip/clip_text.tsv, from research/keys).

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readSafetensors, SafetensorsFile } from "../../../src/io/index.js";
import { Session } from "../../../src/runtime/index.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import { toFloat16, toFloat32 } from "../../../src/tensor/float16.js";
import {
  CLIP_INPUT_IDS,
  ClipConfigError,
  ClipTextEncoder,
  SD21_TEXT_ENCODER,
  type ClipTextConfig,
  type ClipTextOutput,
  clipTextConfigFromJson,
  clipTextEncoderGraph,
  clipTextParamShapes,
  clipTextWeightProblems,
  resolveClipLayers,
} from "../../../src/models/clip/index.js";

const fixturePath = (name: string) => fileURLToPath(new URL(`../../fixtures/clip/${name}`, import.meta.url));
const FIXTURE = fixturePath("text-encoder.safetensors");
/** Max |ours - PyTorch| allowed, relative to the output's largest magnitude. */
const TOLERANCE = 1e-4;

const fixture = readSafetensors(FIXTURE);
const baseConfig = clipTextConfigFromJson(JSON.parse(SafetensorsFile.open(FIXTURE).metadata.config!));
/** The checkpoint part of the fixture: every text_model.* key, position_ids included. */
const weights = new Map([...fixture].filter(([name]) => name.startsWith("text_model.")));
const ids = fixture.get("input_ids")!;

/** Outputs of the fixture, by the hidden_act they were computed with and how they are read. */
const CASES: { output: string; act: ClipTextConfig["hiddenAct"]; spec: ClipTextOutput }[] = [
  { output: "last_hidden_state", act: "gelu", spec: {} },
  { output: "penultimate", act: "gelu", spec: { layers: -1 } },
  { output: "penultimate_raw", act: "gelu", spec: { layers: 2, finalLayerNorm: false } },
  { output: "embeddings", act: "gelu", spec: { layers: 0, finalLayerNorm: false } },
  { output: "last_hidden_state_quick_gelu", act: "quick_gelu", spec: { layers: 3 } },
  { output: "last_hidden_state_gelu_new", act: "gelu_new", spec: {} },
];

/** Largest |a - b| and the reference's largest magnitude; a NaN anywhere gives an infinite error. */
function maxError(ours: Tensor, reference: Tensor, positions = reference.shape[1]!): { error: number; scale: number } {
  const [batch, length, width] = reference.shape as [number, number, number];
  assert.deepEqual(ours.shape, [batch, positions, width]);
  const a = ours.data as Float32Array;
  const r = reference.data as Float32Array;
  let error = 0;
  let scale = 0;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < positions * width; i++) {
      const ref = r[(b * length) * width + i]!;
      const d = Math.abs(a[b * positions * width + i]! - ref);
      error = Number.isNaN(d) ? Infinity : Math.max(error, d);
      scale = Math.max(scale, Math.abs(ref));
    }
  }
  return { error, scale };
}

for (const act of ["gelu", "quick_gelu", "gelu_new"] as const) {
  for (const batch of [3, "B"] as const) {
    test(`hidden_act ${act}, batch ${batch}: every output matches PyTorch within ${TOLERANCE} of its scale`, async (t) => {
      const cases = CASES.filter((c) => c.act === act);
      const config = { ...baseConfig, hiddenAct: act };
      const graph = clipTextEncoderGraph(config, { batch, outputs: Object.fromEntries(cases.map((c) => [c.output, c.spec])) });
      const session = await Session.fromGraph(graph, { weights, threads: 1 });
      try {
        const out = await session.run({ [CLIP_INPUT_IDS]: ids });
        for (const { output } of cases) {
          const { error, scale } = maxError(out[output]!, fixture.get(output)!);
          t.diagnostic(`${output}: max |diff| ${error.toExponential(2)}, scale ${scale.toFixed(3)}`);
          assert.ok(error <= TOLERANCE * scale, `${output}: max |diff| ${error} > ${TOLERANCE} * ${scale}`);
        }
      } finally {
        await session.release();
      }
    });
  }
}

test("a shorter sequence reads the first position embeddings and, being causal, equals the prefix of the full run", async () => {
  const length = 16;
  const prefix = new Tensor("int64", new BigInt64Array(3 * length), [3, length]);
  for (let b = 0; b < 3; b++) prefix.data.set(ids.data.subarray(b * 77, b * 77 + length) as BigInt64Array, b * length);
  const encoder = await ClipTextEncoder.create(baseConfig, weights, { sequenceLength: length, threads: 1 });
  try {
    const { last_hidden_state: out } = await encoder.encode(prefix);
    const { error, scale } = maxError(out!, fixture.get("last_hidden_state")!, length);
    assert.ok(error <= TOLERANCE * scale, `max |diff| ${error} > ${TOLERANCE} * ${scale}`);
  } finally {
    await encoder.release();
  }
});

test("masked positions contribute exactly nothing: changing later tokens leaves earlier outputs bit-identical", async () => {
  const changed = ids.clone();
  const row = changed.data as BigInt64Array;
  for (let i = 12; i < 77; i++) row[i] = BigInt((i * 37) % 997); // row 0 after its first 12 tokens
  const encoder = await ClipTextEncoder.create(baseConfig, weights, { threads: 1 });
  try {
    const a = (await encoder.encode(ids)).last_hidden_state!.data as Float32Array;
    const b = (await encoder.encode(changed)).last_hidden_state!.data as Float32Array;
    const width = baseConfig.hiddenSize;
    assert.deepEqual(b.subarray(0, 12 * width), a.subarray(0, 12 * width));
    assert.notDeepEqual(b.subarray(12 * width, 77 * width), a.subarray(12 * width, 77 * width));
  } finally {
    await encoder.release();
  }
});

test("float16 weights under ModelT2V's text_encoder. prefix load as they are and match to float16 precision", async () => {
  const prefixed = new Map([...weights].map(([name, t]) => [`text_encoder.${name}`, t.dtype === "float32" ? toFloat16(t) : t]));
  const encoder = await ClipTextEncoder.create(baseConfig, prefixed, { dtype: "float16", prefix: "text_encoder", threads: 1 });
  try {
    const { last_hidden_state: out } = await encoder.encode(ids);
    assert.equal(out!.dtype, "float16");
    // float16 rounds each op to 2^-11 relative; a few dozen ops in a row stay well inside 2e-3
    const { error, scale } = maxError(toFloat32(out!), fixture.get("last_hidden_state")!);
    assert.ok(error <= 2e-3 * scale, `max |diff| ${error} > 2e-3 * ${scale}`);
  } finally {
    await encoder.release();
  }
});

test("the encoder rejects ids outside the vocabulary, naming the position", async () => {
  const encoder = await ClipTextEncoder.create(baseConfig, weights, { threads: 1 });
  try {
    const bad = ids.clone();
    (bad.data as BigInt64Array)[77 + 5] = BigInt(baseConfig.vocabSize);
    await assert.rejects(encoder.encode(bad), /input_ids\[1, 5\] = 1000 is outside the vocabulary 0\.\.999/);
    await assert.rejects(encoder.encode(Tensor.int64([1, 2, 3], [1, 3])), /input_ids: expected int64\[B, 77\], got int64\[1, 3\]/);
  } finally {
    await encoder.release();
  }
});

test("checkpoint keys: position_ids is accepted, missing / misshapen / unknown keys are each named", () => {
  assert.ok(weights.has("text_model.embeddings.position_ids"));
  assert.deepEqual(clipTextWeightProblems(baseConfig, weights), []);
  const broken = new Map(weights);
  broken.delete("text_model.encoder.layers.1.mlp.fc2.bias");
  broken.set("text_model.final_layer_norm.weight", Tensor.zeros("float32", [63]));
  broken.set("text_model.encoder.layers.3.layer_norm1.weight", Tensor.zeros("float32", [64]));
  assert.deepEqual(clipTextWeightProblems(baseConfig, broken), [
    "missing text_model.encoder.layers.1.mlp.fc2.bias [64]",
    "text_model.final_layer_norm.weight: expected shape [64], got [63]",
    "unexpected key text_model.encoder.layers.3.layer_norm1.weight",
  ]);
});

test("the SD 2.1 sized encoder declares exactly the keys and shapes of the SD 2.1 text encoder", () => {
  const expected = new Map<string, number[]>();
  for (const line of readFileSync(fixturePath("clip_text.tsv"), "utf8").split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const [name, shape] = line.split("\t") as [string, string];
    if (name !== "text_model.embeddings.position_ids") expected.set(name, JSON.parse(shape));
  }
  const ours = clipTextParamShapes(SD21_TEXT_ENCODER);
  assert.equal(ours.size, 372);
  assert.deepEqual(new Map([...ours].map(([k, v]) => [k, [...v]])), expected);
  const total = [...ours.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  assert.equal(total, 340_387_840); // models-spec.md section 6.1
});

test("config.json fields: SD 2.1's file reads as SD21_TEXT_ENCODER; missing fields take CLIPTextConfig defaults", () => {
  const sd21 = {
    architectures: ["CLIPTextModel"], attention_dropout: 0, bos_token_id: 0, dropout: 0, eos_token_id: 2, hidden_act: "gelu",
    hidden_size: 1024, initializer_factor: 1, initializer_range: 0.02, intermediate_size: 4096, layer_norm_eps: 1e-5,
    max_position_embeddings: 77, model_type: "clip_text_model", num_attention_heads: 16, num_hidden_layers: 23, pad_token_id: 1,
    projection_dim: 512, torch_dtype: "float32", transformers_version: "4.34.0", vocab_size: 49408,
  };
  assert.deepEqual(clipTextConfigFromJson(sd21), SD21_TEXT_ENCODER);
  assert.deepEqual(clipTextConfigFromJson({}).hiddenAct, "quick_gelu");
});

test("config errors name the field, the value and what is allowed", () => {
  assert.throws(() => clipTextConfigFromJson({ hidden_act: "relu", num_hidden_layers: 0 }), (e: unknown) => {
    assert.ok(e instanceof ClipConfigError);
    assert.match(e.message, /num_hidden_layers must be a positive integer, got 0/);
    assert.match(e.message, /hidden_act must be one of "gelu", "quick_gelu", "gelu_new", "gelu_pytorch_tanh", got "relu"/);
    return true;
  });
  assert.throws(() => clipTextConfigFromJson({ hidden_size: 100, num_attention_heads: 16 }), /hidden_size 100 must be a multiple of num_attention_heads 16/);
  assert.throws(() => clipTextConfigFromJson([]), /expected a JSON object, got an array/);
  assert.throws(() => resolveClipLayers(-24, 23), /layers must be an integer from -23 to 23 \(negative: layers skipped from the end\), got -24/);
  assert.equal(resolveClipLayers(-1, 23), 22);
  assert.throws(() => clipTextEncoderGraph(baseConfig, { outputs: { x: { layers: 4 } } }), /outputs\.x\.layers must be an integer from -3 to 3/);
  assert.throws(() => clipTextEncoderGraph(baseConfig, { sequenceLength: 78 }), /sequence length 78 .* must be a number from 1 to maxPositionEmbeddings 77/);
});
