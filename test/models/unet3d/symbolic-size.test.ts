// A UNet3D built with symbolic height and width (one session for every latent size) against graphs built
// for each static size, on the tiny fixture configs: 32x32 and 16x24 latents (H != W catches a swapped
// axis), and at the fixture's own 8x8 against the PyTorch reference. Sizes the downsamples cannot halve
// are refused before running, naming the divisibility.

import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Graph } from "../../../src/graph/index.js";
import { SafetensorsFile, readSafetensors } from "../../../src/io/index.js";
import { buildUNet3D, parseUNet3DConfig, unet3dParamShapes, type UNet3DConfig } from "../../../src/models/unet3d/index.js";
import { Session, SessionInputError } from "../../../src/runtime/index.js";
import { SeededNoise } from "../../../src/tensor/seeded-noise.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import { hashedWeights } from "./hashed-weights.js";
import { relativeError } from "../relative-error.js";

function fixtureConfig(path: string): { cfg: UNet3DConfig; seed: number } {
  const f = SafetensorsFile.open(path);
  try {
    return { cfg: parseUNet3DConfig(JSON.parse(f.metadata.config!)), seed: Number(f.metadata.weight_seed) };
  } finally {
    f.close();
  }
}

function randn(shape: number[], seed: number): Tensor<"float32"> {
  return new Tensor("float32", new SeededNoise(seed).randn(shape), shape);
}

for (const variant of ["vidrd", "vidrd_options", "modelscope"]) {
  test(`UNet3D ${variant} with symbolic H, W matches static-size graphs at 32x32 and 16x24 and the reference at 8x8`, async () => {
    const path = fileURLToPath(new URL(`../../fixtures/unet3d/${variant}.safetensors`, import.meta.url));
    const { cfg, seed } = fixtureConfig(path);
    const weights = hashedWeights(unet3dParamShapes(cfg), seed);
    const g = new Graph(`unet3d_${variant}_hw`);
    const built = buildUNet3D(g, cfg, { height: "H", width: "W" });
    assert.deepEqual(built.sample.shape, ["B", 4, "F", "H", "W"]);
    assert.deepEqual(built.eps.shape, ["B", 4, "F", "H", "W"]);
    const symbolic = await Session.fromGraph(g, { weights, threads: 2 });
    try {
      const context = randn([1, 77, cfg.crossAttentionDim], 11);
      for (const [h, w] of [[32, 32], [16, 24]] as const) {
        const gs = new Graph(`unet3d_${variant}_${h}x${w}`);
        buildUNet3D(gs, cfg, { height: h, width: w });
        const fixed = await Session.fromGraph(gs, { weights, threads: 2 });
        try {
          const feeds = { sample: randn([1, 4, 2, h, w], h + w), timestep: Tensor.float32([500]), encoder_hidden_states: context };
          const want = (await fixed.run(feeds)).eps!;
          const got = (await symbolic.run(feeds)).eps!;
          assert.deepEqual(got.shape, [1, 4, 2, h, w]);
          const err = relativeError(got, want);
          assert.ok(err < 1e-5, `${h}x${w}: symbolic vs static relative error ${err}`);
        } finally {
          await fixed.release();
        }
      }
      const fixture = readSafetensors(path);
      const ref = fixture.get("f8.eps")!;
      const { eps } = await symbolic.run({ sample: fixture.get("f8.sample")!, timestep: fixture.get("f8.timestep")!, encoder_hidden_states: fixture.get("context")! });
      const err = relativeError(eps!, ref);
      assert.ok(err < 1e-4, `8x8 against the PyTorch reference: relative error ${err}`);
      // two levels need H and W even: 10x10 is fine, 10x9 is refused before the runtime sees it
      await symbolic.run({ sample: randn([1, 4, 1, 10, 10], 3), timestep: Tensor.float32([1]), encoder_hidden_states: context });
      await assert.rejects(
        symbolic.run({ sample: randn([1, 4, 1, 10, 9], 3), timestep: Tensor.float32([1]), encoder_hidden_states: context }),
        (e: unknown) => e instanceof SessionInputError && /needs W divisible by 2/.test(e.message),
      );
    } finally {
      await symbolic.release();
    }
  });
}
