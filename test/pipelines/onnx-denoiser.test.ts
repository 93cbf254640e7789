// The ONNX denoiser wrapper on tiny models built with the project's own graph IR and written as .onnx
// files: eps = sample * mean(encoder_hidden_states[b]) + 0.5 * timestep, broadcast per batch (and per
// frame for a [B, F] timestep), so every input's routing shows in the output.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { Graph, ops, writeOnnx, type Value } from "../../src/graph/index.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { float16ToFloat32Array, float32ToFloat16Array } from "../../src/tensor/float16.js";
import { openOnnxDenoiser } from "../../src/pipelines/onnx-denoiser.js";

type Float = "float32" | "float16";

function unetLike(opts: { dtype?: Float; timestep?: "float32" | "int64"; perFrame?: boolean; sampleName?: string } = {}): Graph {
  const dtype = opts.dtype ?? "float32";
  const g = new Graph("tiny_unet");
  const sample = g.input(opts.sampleName ?? "sample", dtype, ["B", 4, "F", "H", "W"]);
  const timestep = g.input("timestep", opts.timestep ?? "float32", opts.perFrame ? ["B", "F"] : ["B"]);
  const context = g.input("encoder_hidden_states", dtype, ["B", 3, 2]);
  const scale = ops.unsqueeze(ops.reduceMean(context, [1, 2], false), [1, 2, 3, 4]); // [B, 1, 1, 1, 1]
  let t: Value = opts.timestep === "int64" ? ops.cast(timestep, dtype) : timestep;
  t = opts.perFrame ? ops.unsqueeze(t, [1, 3, 4]) : ops.unsqueeze(t, [1, 2, 3, 4]); // [B, 1, F, 1, 1] or [B, 1, 1, 1, 1]
  g.output("out_sample", ops.add(ops.mul(sample, scale), ops.mul(t, 0.5)));
  return g;
}

async function withModel<T>(graph: Graph, body: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "vidrd-onnx-denoiser-"));
  try {
    const path = join(dir, "unet.onnx");
    writeOnnx(graph, path);
    return await body(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const B = 2;
const F = 3;
const z = new Tensor("float32", Float32Array.from({ length: B * 4 * F * 2 * 2 }, (_, k) => (k % 7) - 3), [B, 4, F, 2, 2]);
/** Batch 0's embeddings have mean 1, batch 1's mean 3. */
const embeddings = new Tensor("float32", Float32Array.of(0, 2, 1, 1, 0, 2, 3, 3, 2, 4, 3, 3), [B, 3, 2]);
const perElement = z.size / B;
const expected = (t: (b: number, f: number) => number) =>
  Array.from(z.data as Float32Array, (v, k) => {
    const b = Math.floor(k / perElement);
    const f = Math.floor((k % perElement) / 4) % F; // [B, C, F, H*W = 4]
    return v * (b === 0 ? 1 : 3) + 0.5 * t(b, f);
  });

test("a float32 model with timestep [B]: inputs routed by name, output the first output", async () => {
  await withModel(unetLike(), async (path) => {
    const d = await openOnnxDenoiser(path, { threads: 1 });
    try {
      assert.equal(d.perFrameTimesteps, false);
      assert.equal(d.dtype, "float32");
      const eps = await d.denoise(z, 981, { embeddings });
      assert.deepEqual(eps.shape, z.shape);
      assert.deepEqual([...eps.data], expected(() => 981));
      // equal per-frame timesteps are one level: accepted by a [B] model
      assert.deepEqual([...(await d.denoise(z, [21, 21, 21], { embeddings })).data], expected(() => 21));
      await assert.rejects(d.denoise(z, [1, 2, 3], { embeddings }), /takes timestep \[B\]: one noise level per call; per-frame timesteps need a model exported with timestep \[B, F\]/);
      await assert.rejects(d.denoise(z, [1, 2], { embeddings }), /2 per-frame timesteps for 3 frames/);
    } finally {
      await d.release();
    }
  });
});

test("a model with timestep [B, F] gets one timestep per frame", async () => {
  await withModel(unetLike({ perFrame: true }), async (path) => {
    const d = await openOnnxDenoiser(path, { threads: 1 });
    try {
      assert.equal(d.perFrameTimesteps, true);
      assert.deepEqual([...(await d.denoise(z, [100, 200, 300], { embeddings })).data], expected((_, f) => 100 * (f + 1)));
      assert.deepEqual([...(await d.denoise(z, 7, { embeddings })).data], expected(() => 7));
    } finally {
      await d.release();
    }
  });
});

test("a float16 model with an int64 timestep: inputs converted, output widened to float32", async () => {
  await withModel(unetLike({ dtype: "float16", timestep: "int64" }), async (path) => {
    const d = await openOnnxDenoiser(path, { threads: 1 });
    try {
      assert.equal(d.dtype, "float16");
      const eps = await d.denoise(z, 41, { embeddings });
      assert.equal(eps.dtype, "float32");
      // every value is exact in float16 here: small integers and halves
      const want = expected(() => 41);
      assert.deepEqual([...eps.data], [...float16ToFloat32Array(float32ToFloat16Array(Float32Array.from(want)))]);
      await assert.rejects(d.denoise(z, 980.5, { embeddings }), /timestep 980\.5 is not an integer but the model's timestep input is int64/);
    } finally {
      await d.release();
    }
  });
});

test("a model without the UNet3D signature is refused, naming what it has", async () => {
  await withModel(unetLike({ sampleName: "x" }), async (path) => {
    await assert.rejects(openOnnxDenoiser(path, { threads: 1 }), (e: unknown) => {
      const m = (e as Error).message;
      assert.equal((e as Error).name, "OnnxDenoiserError");
      assert.match(m, /does not have the UNet3D signature/);
      assert.match(m, /no input "sample"/);
      assert.match(m, /unexpected input\(s\) "x"/);
      assert.match(m, /The model has inputs x float32\[B, 4, F, H, W\], timestep float32\[B\], encoder_hidden_states float32\[B, 3, 2\]/);
      return true;
    });
  });
  const g = new Graph("ranks");
  const sample = g.input("sample", "float32", ["B", 4, "H", "W"]);
  const timestep = g.input("timestep", "float32", ["B"]);
  const context = g.input("encoder_hidden_states", "float16", ["B", 3, 2]);
  g.output("out", ops.add(ops.add(sample, ops.unsqueeze(timestep, [1, 2, 3])), ops.unsqueeze(ops.reduceMean(ops.cast(context, "float32"), [1, 2], false), [1, 2, 3])));
  await withModel(g, async (path) => {
    await assert.rejects(openOnnxDenoiser(path, { threads: 1 }), /input "sample" has rank 4; allowed: 5.*sample is float32 but encoder_hidden_states is float16/);
  });
});
