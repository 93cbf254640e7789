// The diagonal Gaussian posterior's pieces that the tiny fixture does not reach: the log-variance clamp
// to [-30, 20] (diffusers' DiagonalGaussianDistribution) and the shape of the eps a NoiseSource provides.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph } from "../../../src/graph/index.js";
import { clampLogvar, posteriorNoise, VIDRD_TEMPORAL_VAE } from "../../../src/models/vae/index.js";
import { Session } from "../../../src/runtime/index.js";
import { SeededNoise, Tensor } from "../../../src/tensor/index.js";

test("clampLogvar clamps to [-30, 20] and passes values between unchanged", async () => {
  const g = new Graph("clamp");
  g.output("y", clampLogvar(g.input("x", "float32", [6])));
  const session = await Session.fromGraph(g, { threads: 1 });
  try {
    const { y } = await session.run({ x: Tensor.float32([-1e6, -30.5, -29.5, 0.25, 19.5, 25]) });
    assert.deepEqual([...(y!.data as Float32Array)], [-30, -30, -29.5, 0.25, 19.5, 20]);
  } finally {
    await session.release();
  }
});

test("posteriorNoise draws eps of the latent shape from the NoiseSource", () => {
  const eps = posteriorNoise(new SeededNoise(1), [2, 3, 8, 256, 256], VIDRD_TEMPORAL_VAE);
  assert.deepEqual(eps.shape, [2, 4, 8, 32, 32]);
  assert.deepEqual(eps.data, new SeededNoise(1).randn([2, 4, 8, 32, 32]));
  assert.throws(() => posteriorNoise(new SeededNoise(1), [2, 3, 8, 250, 256], VIDRD_TEMPORAL_VAE), /multiples of 8/);
});
