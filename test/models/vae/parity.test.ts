// The TypeScript VAE against the PyTorch reference (tools/reference/vae.py) on the tiny fixture of
// tools/fixtures/vae_fixture.py: encoder posterior, temporal ("clip") decode and the authors' per-frame
// decode, with static and with symbolic input dims (B, F, H, W).

import { test } from "node:test";
import assert from "node:assert/strict";
import { buildVaeDecoderGraph, buildVaeEncoderGraph, type TemporalDecoderMode, vaeSpatialFactor } from "../../../src/models/vae/index.js";
import { Session, SessionInputError } from "../../../src/runtime/index.js";
import { SeededNoise } from "../../../src/tensor/seeded-noise.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import { assertCloseToScale, get, tinyFixture } from "./helpers.js";

/** Max abs error allowed, as a fraction of the largest reference value (float32 vs float64 reference). */
const TOLERANCE = 1e-4;

const fx = tinyFixture();

for (const dims of ["static", "symbolic"] as const) {
  test(`encoder posterior (mean, logvar, sample) matches PyTorch (${dims} dims)`, async (t) => {
    const frames = get(fx.tensors, "encode.frames");
    const [b, , f, h, w] = frames.shape;
    const shape = dims === "static" ? { batch: b, frames: f, height: h!, width: w! } : {};
    const session = await Session.fromGraph(buildVaeEncoderGraph(fx.config, { posterior: "sample", ...shape }), { weights: fx.weights, threads: 1 });
    try {
      const out = await session.run({ frames, eps: get(fx.tensors, "encode.eps") });
      for (const [ours, theirs] of [["mean", "encode.mean"], ["logvar", "encode.logvar"], ["latents", "encode.sample"]] as const) {
        t.diagnostic(assertCloseToScale(out[ours]!, get(fx.tensors, theirs), TOLERANCE, ours));
      }
    } finally {
      await session.release();
    }
  });

  for (const mode of ["clip", "per-frame"] as const satisfies readonly TemporalDecoderMode[]) {
    test(`decoder, temporalDecoder "${mode}", matches PyTorch (${dims} dims)`, async (t) => {
      const latents = get(fx.tensors, "decode.latents");
      const [b, , f, h, w] = latents.shape;
      const shape = dims === "static" ? { batch: b, frames: f, height: h, width: w } : {};
      const graph = buildVaeDecoderGraph(fx.config, { temporalDecoder: mode, ...shape });
      assert.equal([...graph.params.keys()].some((k) => k.includes("temp_convs")), mode === "clip", "temporal parameters only in clip mode");
      const session = await Session.fromGraph(graph, { weights: fx.weights, threads: 1 });
      try {
        const { frames } = await session.run({ latents });
        const expected = get(fx.tensors, mode === "clip" ? "decode.clip" : "decode.per_frame");
        t.diagnostic(assertCloseToScale(frames!, expected, TOLERANCE, `frames (${mode})`));
      } finally {
        await session.release();
      }
    });
  }
}

test("an encoder with symbolic H, W matches static-size encoders at two image sizes (H != W)", async () => {
  const factor = vaeSpatialFactor(fx.config);
  const symbolic = await Session.fromGraph(buildVaeEncoderGraph(fx.config), { weights: fx.weights, threads: 1 });
  try {
    for (const [h, w] of [[2 * factor, 2 * factor], [factor, 3 * factor]]) {
      const frames = new Tensor("float32", new SeededNoise(h * 100 + w).randn([1, fx.config.inChannels, 2, h, w]), [1, fx.config.inChannels, 2, h, w]);
      const fixed = await Session.fromGraph(buildVaeEncoderGraph(fx.config, { height: h, width: w }), { weights: fx.weights, threads: 1 });
      try {
        const want = await fixed.run({ frames });
        const got = await symbolic.run({ frames });
        assert.deepEqual(got.latents!.shape, [1, fx.config.latentChannels, 2, h / factor, w / factor]);
        assertCloseToScale(got.latents!, want.latents!, 1e-6, `latents ${h}x${w}`);
      } finally {
        await fixed.release();
      }
    }
    const bad = new Tensor("float32", new Float32Array(3 * factor * (factor + 1)), [1, 3, 1, factor, factor + 1]);
    await assert.rejects(symbolic.run({ frames: bad }), (e: unknown) => e instanceof SessionInputError && /W divisible by 2/.test(e.message));
  } finally {
    await symbolic.release();
  }
});
