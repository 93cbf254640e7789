// Chunked decoding (src/models/vae/chunked.ts) against the full decoder graph on the tiny fixture's
// weights: a 12-frame clip in chunks of 4 and of 5 (a short last chunk), both decoder modes, and the
// one-frame clip. Also shows why a halo alone would not do: decoding a chunk as its own clip differs.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  buildVaeDecoderGraph,
  ChunkedVaeDecoder,
  decodeChunked,
  stagePlans,
  type TemporalDecoderMode,
  temporalConvDepth,
} from "../../../src/models/vae/index.js";
import { Session } from "../../../src/runtime/index.js";
import { frameSlice, SeededNoise, Tensor } from "../../../src/tensor/index.js";
import { tinyFixture } from "./helpers.js";

const fx = tinyFixture();
const [B, L, H, W] = [2, fx.config.latentChannels, 8, 8];
const FRAMES = 12;
const latents = new Tensor("float32", new SeededNoise(7).randn([B, L, FRAMES, H, W]), [B, L, FRAMES, H, W]);

async function fullDecode(x: Tensor, mode: TemporalDecoderMode): Promise<Tensor> {
  const session = await Session.fromGraph(buildVaeDecoderGraph(fx.config, { temporalDecoder: mode }), { weights: fx.weights, threads: 1 });
  try {
    return (await session.run({ latents: x })).frames!;
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  let worst = 0;
  const [x, y] = [a.data as Float32Array, b.data as Float32Array];
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) || (Number.isNaN(x[i]! - y[i]!) ? Infinity : 0));
  return worst;
}

test("the stage plan cuts the decoder at every temporal GroupNorm", () => {
  const plans = stagePlans(fx.config, true);
  // tiny: 2 up blocks x 2 ResNets = 4 temporal convs x 3 repeats, plus the stem stage
  assert.equal(plans.length, 1 + temporalConvDepth(fx.config));
  assert.equal(temporalConvDepth(fx.config), 12);
  assert.deepEqual(plans.map((p) => p.emitsMoments), [...Array(plans.length - 1).fill(true), false]);
  assert.equal(plans.at(-1)!.outChannels, 3);
  assert.equal(plans.at(-1)!.outScale, 2);
  assert.equal(stagePlans(fx.config, false).length, 1);
});

for (const mode of ["clip", "per-frame"] as const) {
  for (const chunkFrames of [4, 5]) {
    test(`decodeChunked (${mode}, ${FRAMES} frames in chunks of ${chunkFrames}) equals the full decode within 1e-5`, async (t) => {
      const expected = await fullDecode(latents, mode);
      const decoder = await ChunkedVaeDecoder.compile(fx.config, fx.weights, { temporalDecoder: mode, chunkFrames, batch: B, latentHeight: H, latentWidth: W, threads: 1 });
      try {
        const ours = await decodeChunked(decoder, latents);
        const diff = maxAbsDiff(ours, expected);
        t.diagnostic(`max |chunked - full| = ${diff.toExponential(2)}`);
        assert.ok(diff <= 1e-5, `max abs difference ${diff}`);
      } finally {
        await decoder.release();
      }
    });
  }
}

test("a window with a full receptive-field halo still differs: temporal GroupNorm statistics span the clip", async () => {
  const depth = temporalConvDepth(fx.config); // 12: frames further away reach a frame only through the statistics
  const long = new Tensor("float32", new SeededNoise(8).randn([B, L, 30, H, W]), [B, L, 30, H, W]);
  const full = await fullDecode(long, "clip");
  const window = await fullDecode(frameSlice(long, 0, 4 + depth), "clip"); // frames 0..3 plus a halo of `depth`
  const diff = maxAbsDiff(frameSlice(window, 0, 4), frameSlice(full, 0, 4));
  assert.ok(diff > 1e-3, `the windowed frames should differ (max diff ${diff})`);
});

test("a one-frame clip decodes as the per-frame decoder (the temporal layers are the identity)", async () => {
  const one = frameSlice(latents, 3, 4);
  const decoder = await ChunkedVaeDecoder.compile(fx.config, fx.weights, { temporalDecoder: "clip", chunkFrames: 4, batch: B, latentHeight: H, latentWidth: W, threads: 1 });
  try {
    const ours = await decodeChunked(decoder, one);
    const perFrame = maxAbsDiff(ours, await fullDecode(one, "per-frame"));
    const clip = maxAbsDiff(ours, await fullDecode(one, "clip"));
    assert.ok(perFrame <= 1e-5 && clip <= 1e-5, `max differences: ${perFrame} (per-frame), ${clip} (clip)`);
  } finally {
    await decoder.release();
  }
});

test("decodeChunked rejects latents of another shape, naming what it was compiled for", async () => {
  const decoder = await ChunkedVaeDecoder.compile(fx.config, fx.weights, { temporalDecoder: "per-frame", chunkFrames: 4, batch: B, latentHeight: H, latentWidth: W, threads: 1 });
  try {
    await assert.rejects(decodeChunked(decoder, Tensor.zeros("float32", [1, L, 3, H, W])), /compiled for float32\[2, 4, F, 8, 8\]/);
  } finally {
    await decoder.release();
  }
  await assert.rejects(
    ChunkedVaeDecoder.compile(fx.config, fx.weights, { temporalDecoder: "clip", chunkFrames: 0, batch: B, latentHeight: H, latentWidth: W }),
    /chunkFrames must be a positive integer, got 0/,
  );
});
