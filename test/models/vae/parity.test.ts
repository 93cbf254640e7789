// The TypeScript VAE against the PyTorch reference (tools/reference/vae.py) on the tiny fixture of
// tools/fixtures/vae_fixture.py: encoder posterior, temporal ("clip") decode and the authors' per-frame
// decode, with static and with symbolic input dims.

import { test } from "node:test";
import assert from "node:assert/strict";
import { buildVaeDecoderGraph, buildVaeEncoderGraph, type TemporalDecoderMode } from "../../../src/models/vae/index.js";
import { Session } from "../../../src/runtime/index.js";
import { assertCloseToScale, get, tinyFixture } from "./helpers.js";

/** Max abs error allowed, as a fraction of the largest reference value (float32 vs float64 reference). */
const TOLERANCE = 1e-4;

const fx = tinyFixture();

for (const dims of ["static", "symbolic"] as const) {
  test(`encoder posterior (mean, logvar, sample) matches PyTorch (${dims} batch and frames)`, async (t) => {
    const frames = get(fx.tensors, "encode.frames");
    const [b, , f, h, w] = frames.shape;
    const shape = dims === "static" ? { batch: b, frames: f, height: h!, width: w! } : { height: h!, width: w! };
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
