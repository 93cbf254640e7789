// The decoder's temporal layers are fine-tuned (the paper trains them with the rest of the VAE frozen), so
// the decoder graph must be differentiable: gradients of mean(frames^2) from the autodiff pass against
// PyTorch's autograd on the tiny fixture (tools/fixtures/vae_fixture.py), and the trainable set.

import { test } from "node:test";
import assert from "node:assert/strict";
import { gradients } from "../../../src/graph/autodiff.js";
import { Graph, ops } from "../../../src/graph/index.js";
import { Scope } from "../../../src/nn/index.js";
import { vaeDecoder } from "../../../src/models/vae/index.js";
import { Session } from "../../../src/runtime/index.js";
import { assertCloseToScale, get, tinyFixture } from "./helpers.js";

const fx = tinyFixture();
const CHECKED = ["decoder.up_blocks.1.temp_convs.1.convs.11.weight", "decoder.up_blocks.0.temp_convs.0.convs.0.weight"];

test("decoder gradients for temporal parameters match PyTorch autograd", async (t) => {
  const latentsIn = get(fx.tensors, "decode.latents");
  const g = new Graph("vae_decoder_grad");
  const latents = g.input("latents", "float32", latentsIn.shape);
  const frames = vaeDecoder(new Scope(g), latents, fx.config, { temporalDecoder: "clip" });
  const loss = ops.reduceMean(ops.mul(frames, frames), [0, 1, 2, 3, 4]);
  const trainable = g.paramList().filter((p) => p.trainable);
  // default trainable "temporal": exactly the temporal convs, 4 layers x 3 repeats x (norm + conv) x 2 tensors
  assert.equal(trainable.length, 48);
  assert.ok(trainable.every((p) => p.value.name.includes(".temp_convs.")));
  const grads = gradients(loss, trainable.map((p) => p.value));
  g.output("loss", loss);
  for (const name of CHECKED) g.output(`grad.${name}`, grads.get(g.params.get(name)!.value)!);
  const session = await Session.fromGraph(g, { weights: fx.weights, threads: 1 });
  try {
    const out = await session.run({ latents: latentsIn });
    t.diagnostic(assertCloseToScale(out.loss!.reshape([1]), get(fx.tensors, "grad.loss"), 1e-4, "loss"));
    for (const name of CHECKED) t.diagnostic(assertCloseToScale(out[`grad.${name}`]!, get(fx.tensors, `grad.${name}`), 1e-4, name));
  } finally {
    await session.release();
  }
});
