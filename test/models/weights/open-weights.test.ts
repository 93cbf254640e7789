import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeSafetensors } from "../../../src/io/index.js";
import { PthFile, TorchTensor } from "../../../src/io/pth/index.js";
import { float16ToFloat32Array, float32ToFloat16Array } from "../../../src/tensor/float16.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import { WeightsError, conversionNotes, openWeights, stateDictFromTorch, type OpenedWeights } from "../../../src/models/weights/index.js";
import { assertTensorEquals, expected, pthFixture, valuesOf } from "../../io/pth/fixtures.js";
import { withTempDir } from "../../io/helpers.js";

function using<T>(opened: OpenedWeights, body: (o: OpenedWeights) => T): T {
  try {
    return body(opened);
  } finally {
    opened.stateDict.close();
  }
}

const NEW_ATTENTION = /\.(to_q|to_k|to_v|to_out\.0)\./;
const renamedVaeKey = (n: string) =>
  n.replace(/\.query\./, ".to_q.").replace(/\.key\./, ".to_k.").replace(/\.value\./, ".to_v.").replace(/\.proj_attn\./, ".to_out.0.");

test("Lightning checkpoint: --part selects a model and strips its prefix; values exact; metadata kept", () => {
  using(openWeights(pthFixture("lightning.ckpt"), { part: "unet" }), (o) => {
    assert.equal(o.layout, "lightning");
    assert.deepEqual(o.checkpointInfo, { epoch: 3, global_step: 30, "pytorch-lightning_version": "1.9.5" });
    assert.deepEqual(o.stateDict.names().sort(), ["conv_in.bias", "conv_in.weight", "temp.bias", "temp.weight"]);
    assert.deepEqual(o.stateDict.entry("temp.weight").shape, [4, 4, 3, 1, 1]); // known before reading
    for (const name of o.stateDict.names()) assertTensorEquals(o.stateDict.read(name), expected.lightning[`unet.${name}`], name);
    assert.equal(o.config, null);
  });
  using(openWeights(pthFixture("lightning.ckpt"), { prefix: "text_encoder." }), (o) => {
    assert.deepEqual(o.stateDict.entry("position_ids").shape, [1, 5]);
    assert.deepEqual(valuesOf(o.stateDict.read("position_ids")), ["0", "1", "2", "3", "4"]); // saved with stride 0
    assert.equal(o.stateDict.entry("final_layer_norm.weight").dtype, "float16");
  });
  assert.throws(
    () => openWeights(pthFixture("lightning.ckpt"), { part: "vae" }),
    (e: unknown) => e instanceof WeightsError && /no tensors under the prefix "vae\."; the names start with: unet \(4\), text_encoder \(3\)/.test(e.message),
  );
});

test("float conversion at load: float16 -> float32 exactly, float32 -> float16 rounded; ints untouched", () => {
  using(openWeights(pthFixture("lightning.ckpt"), { part: "text_encoder", dtype: "float32" }), (o) => {
    const w = o.stateDict.read("final_layer_norm.weight");
    const want = expected.lightning["text_encoder.final_layer_norm.weight"];
    assert.equal(w.dtype, "float32");
    assert.deepEqual([...w.data], [...float16ToFloat32Array(Uint16Array.from(want.values as number[]))]);
    assert.equal(o.stateDict.read("position_ids").dtype, "int64");
    assert.deepEqual(conversionNotes(o.stateDict), []);
  });
  using(openWeights(pthFixture("lightning.ckpt"), { part: "unet", dtype: "float16" }), (o) => {
    const w = o.stateDict.read("conv_in.weight");
    const f32 = new Float32Array(Uint32Array.from(expected.lightning["unet.conv_in.weight"].values as number[]).buffer);
    assert.equal(w.dtype, "float16");
    assert.deepEqual([...w.data], [...float32ToFloat16Array(f32)]);
    assert.deepEqual(conversionNotes(o.stateDict), ["4 float32 tensors rounded to float16"]);
  });
});

test("lossy reads are noted: float64 narrows to float32", () => {
  const pth = PthFile.open(pthFixture("tensors.pth"));
  const tensors = new Map([...(pth.value as Map<string, unknown>)].filter(([, v]) => v instanceof TorchTensor));
  const weights = stateDictFromTorch("tensors.pth", tensors, () => pth.close());
  assert.deepEqual(conversionNotes(weights), ["1 float64 tensors rounded to float32"]);
  assert.deepEqual(conversionNotes(weights.withFloatDType("float16")).sort(), [
    "1 bfloat16 tensors rounded to float16",
    "1 float64 tensors rounded to float16",
    "10 float32 tensors rounded to float16",
  ]);
  weights.close();
});

test("diffusers VAE folder with 0.14 attention names: both spellings load under the current names", () => {
  const fromBin = using(openWeights(pthFixture("vae_folder")), (o) => {
    assert.deepEqual([o.layout, o.part, o.config?._class_name], ["diffusers-folder", "vae", "AutoencoderKL"]);
    assert.ok(o.stateDict.names().some((n) => NEW_ATTENTION.test(n)));
    assert.ok(!o.stateDict.names().some((n) => /\.(query|key|value|proj_attn)\./.test(n)));
    for (const [legacy, want] of Object.entries(expected.vae_folder)) assertTensorEquals(o.stateDict.read(renamedVaeKey(legacy)), want, legacy);
    return o.stateDict.readAll();
  });
  withTempDir((dir) => {
    // the same VAE saved by a newer diffusers: safetensors with the new names, inside an SD root folder
    mkdirSync(join(dir, "vae"));
    cpSync(pthFixture("vae_folder/config.json"), join(dir, "vae", "config.json"));
    writeSafetensors(join(dir, "vae", "diffusion_pytorch_model.safetensors"), fromBin);
    using(openWeights(dir, { part: "vae" }), (o) => {
      assert.equal(o.weightsFile, join(dir, "vae", "diffusion_pytorch_model.safetensors"));
      assert.deepEqual(o.stateDict.names().sort(), [...fromBin.keys()].sort());
      for (const [name, t] of fromBin) assert.deepEqual(o.stateDict.read(name), t);
    });
  });
});

test("a single safetensors file and a torch state dict file load by content, whatever their names", () => {
  withTempDir((dir) => {
    const tensors = new Map<string, Tensor>([["w", Tensor.float32([1, 2, 3, 4], [2, 2])], ["n", Tensor.int64([7])]]);
    writeSafetensors(join(dir, "weights.bin"), tensors);
    using(openWeights(join(dir, "weights.bin")), (o) => {
      assert.equal(o.layout, "safetensors");
      assert.deepEqual(o.stateDict.readAll(), tensors);
    });
  });
  using(openWeights(pthFixture("small.pth")), (o) => {
    assert.equal(o.layout, "torch");
    assertTensorEquals(o.stateDict.read("w"), expected.small.w, "w");
  });
});

test("inputs that are not weights fail with one clear WeightsError or PthError line", () => {
  const fails = (path: string, pattern: RegExp, options = {}) =>
    assert.throws(() => openWeights(path, options), (e: unknown) => e instanceof Error && pattern.test(e.message) && !e.message.includes("\n"), path);
  fails(pthFixture("tensors.pth"), /holds a dict of 23 \(keys "f32", .*\), not a state dict/);
  fails(pthFixture("nope.pth"), /nope\.pth: cannot read: ENOENT/);
  fails(pthFixture("expected.json"), /neither a safetensors file nor a torch\.save checkpoint/);
  fails(pthFixture("small.pth"), /no tensors under the prefix "x\."/, { prefix: "x." });
  withTempDir((dir) => {
    fails(dir, /a folder without config\.json/);
    writeFileSync(join(dir, "config.json"), "{}");
    fails(dir, /no weights file; expected one of diffusion_pytorch_model\.safetensors/);
    writeFileSync(join(dir, "diffusion_pytorch_model.safetensors.index.json"), "{}");
    fails(dir, /sharded weights .* are not supported/);
    writeFileSync(join(dir, "config.json"), "{nope");
    writeFileSync(join(dir, "model.safetensors"), "");
    fails(dir, /config\.json: not valid JSON/);
  });
});
