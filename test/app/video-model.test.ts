import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ModelFolderError, VideoModel } from "../../src/app/video-model.js";
import { Graph } from "../../src/graph/graph.js";
import { buildUNet3D, parseUNet3DConfig, unet3dParamShapes } from "../../src/models/unet3d/index.js";
import { Session } from "../../src/runtime/index.js";
import { frameSlice } from "../../src/tensor/frames.js";
import { SeededNoise } from "../../src/tensor/seeded-noise.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { hashedWeights } from "../models/unet3d/hashed-weights.js";
import { TINY_UNET, writeTinyModel } from "./tiny-model.js";

let root: string;
let modelDir: string;

before(() => {
  root = mkdtempSync(join(tmpdir(), "vidrd-model-"));
  modelDir = join(root, "tiny");
  writeTinyModel(modelDir);
});
after(() => rmSync(root, { recursive: true, force: true }));

function randn(shape: number[], seed: number): Tensor<"float32"> {
  return new Tensor("float32", new SeededNoise(seed).randn(shape), shape);
}

test("a model folder opens with its configs, clip length and fps; networks run with the shapes the pipelines use", async () => {
  const model = VideoModel.open(modelDir, { cacheDir: join(root, "cache"), threads: 1 });
  try {
    assert.equal(model.clipFrames, 4);
    assert.equal(model.fps, 4);
    assert.equal(model.latentChannels, 4);
    assert.equal(model.spatialFactor, 2);
    assert.equal(model.defaultSize, 8);
    const emb = await model.encodeText(["a red star moves left", ""]);
    assert.deepEqual(emb.shape, [2, 77, 32]);
    const z = randn([2, 4, 4, 4, 4], 1);
    const eps = await model.denoiser(z, 981, { embeddings: emb });
    assert.deepEqual(eps.shape, [2, 4, 4, 4, 4]);
    assert.ok((eps.data as Float32Array).every(Number.isFinite));
    // A scalar timestep means the same level for every frame.
    const perFrame = await model.denoiser(z, [981, 981, 981, 981], { embeddings: emb });
    assert.deepEqual(perFrame.data, eps.data);
    const frames = await model.decode(z);
    assert.deepEqual(frames.shape, [2, 3, 4, 8, 8]);
    const back = await model.encode(frames);
    assert.deepEqual(back.shape, [2, 4, 4, 4, 4]);
  } finally {
    await model.release();
  }
});

test("the denoiser equals the UNet graph run directly on the folder's weights (independent of the cache path)", async () => {
  const model = VideoModel.open(modelDir, { cacheDir: join(root, "cache"), threads: 1 });
  const cfg = parseUNet3DConfig(TINY_UNET);
  const g = new Graph("unet");
  buildUNet3D(g, cfg, { height: 4, width: 4, frames: 4, batch: 1 });
  const direct = await Session.fromGraph(g, { weights: hashedWeights(unet3dParamShapes(cfg), 7), threads: 1 });
  try {
    const z = randn([1, 4, 4, 4, 4], 2);
    const context = randn([1, 77, 32], 3);
    const want = (await direct.run({ sample: z, timestep: Tensor.float32([500]), encoder_hidden_states: context })).eps!;
    const got = await model.denoiser(z, 500, { embeddings: context });
    let worst = 0;
    const a = got.data as Float32Array;
    const b = want.data as Float32Array;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    assert.ok(worst < 1e-4, `max abs difference ${worst}`);
  } finally {
    await direct.release();
    await model.release();
  }
});

test("per-frame decoding (the authors' pipeline) equals decoding each frame as a one-frame clip; clip decoding differs", async () => {
  const model = VideoModel.open(modelDir, { cacheDir: join(root, "cache"), threads: 1 });
  try {
    const z = randn([1, 4, 3, 4, 4], 4);
    const perFrame = await model.decode(z, "per-frame");
    const clip = await model.decode(z, "clip");
    const plane = 3 * 8 * 8;
    let worst = 0;
    let clipDiff = 0;
    for (let f = 0; f < 3; f++) {
      const alone = await model.decode(frameSlice(z, f, f + 1), "clip"); // F = 1: temporal layers are identities
      const a = alone.data as Float32Array;
      for (let c = 0; c < 3; c++) {
        for (let p = 0; p < 64; p++) {
          const i = c * 3 * 64 + f * 64 + p; // [1, 3, F, 8, 8]
          worst = Math.max(worst, Math.abs((perFrame.data as Float32Array)[i]! - a[c * 64 + p]!));
          clipDiff = Math.max(clipDiff, Math.abs((clip.data as Float32Array)[i]! - a[c * 64 + p]!));
        }
      }
    }
    assert.ok(worst < 1e-5, `per-frame vs one-frame decode: ${worst}`);
    assert.ok(clipDiff > 1e-3, `the temporal decoder should act over 3 frames (max difference ${clipDiff})`);
    assert.equal(perFrame.size, 3 * plane);
  } finally {
    await model.release();
  }
});

test("a broken model folder is refused with everything that is missing named", () => {
  assert.throws(() => VideoModel.open(join(root, "nowhere")), (e: unknown) => e instanceof ModelFolderError && /not a folder/.test((e as Error).message));
  const empty = mkdtempSync(join(root, "empty-"));
  assert.throws(
    () => VideoModel.open(empty),
    (e: unknown) => e instanceof ModelFolderError && /no unet\/, no vae\/, no text_encoder\/, no tokenizer\//.test((e as Error).message),
  );
  const corrupt = join(root, "corrupt");
  writeTinyModel(corrupt);
  writeFileSync(join(corrupt, "unet", "config.json"), "{ not json");
  assert.throws(() => VideoModel.open(corrupt), (e: unknown) => e instanceof ModelFolderError && /unet\/config\.json: not readable JSON/.test((e as Error).message));
  writeTinyModel(corrupt);
  writeFileSync(join(corrupt, "unet", "model.safetensors"), "garbage");
  assert.throws(() => VideoModel.open(corrupt), (e: unknown) => e instanceof ModelFolderError && /unet:/.test((e as Error).message));
  writeTinyModel(corrupt);
  writeFileSync(join(corrupt, "model_index.json"), JSON.stringify({ clip_frames: 0 }));
  assert.throws(() => VideoModel.open(corrupt), /clip_frames is 0; allowed: a positive integer/);
});
