// Properties of the video transformers that hold whatever the weights: the GEGLU feed-forward formula;
// the authors' Transformer3DModel with one frame and no frame embedding is diffusers' Transformer2DModel;
// attention over frames is equivariant to reordering the frames unless the frame embedding marks their
// order; ModelScope's TransformerTemporalModel likewise. (Parity of whole UNets with PyTorch:
// test/models/unet3d/parity.test.ts.)

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { type Dim, Graph, type Value } from "../../src/graph/index.js";
import { Scope, foldFrames, gegluFeedForward, transformer2d, transformer3d, transformerTemporal, unfoldFrames } from "../../src/nn/index.js";
import { Session } from "../../src/runtime/index.js";
import { SeededNoise } from "../../src/tensor/seeded-noise.js";
import { frameConcat, frameSlice } from "../../src/tensor/frames.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { hashedWeights } from "../models/unet3d/hashed-weights.js";

const C = 16;
const CONTEXT_DIM = 12;
const SPATIAL = { channels: C, heads: 2, headDim: 8, groups: 4, contextDim: CONTEXT_DIM, linearProjection: true };

function randomTensor(shape: number[], seed: number): Tensor<"float32"> {
  return new Tensor("float32", new SeededNoise(seed).randn(shape), shape);
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  assert.equal(x.length, y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

const sessions: Session[] = [];
after(() => Promise.all(sessions.map((s) => s.release())));

/** Builds `layer` on inputs x [B, C, F, 4, 4] and context [B, 5, 12], with hashed weights; returns a runner. */
async function compile(frames: Dim, layer: (s: Scope, x: Value, ctx: Value) => Value): Promise<(x: Tensor, ctx: Tensor) => Promise<Tensor>> {
  const g = new Graph("layer");
  const x = g.input("x", "float32", ["B", C, frames, 4, 4]);
  const ctx = g.input("ctx", "float32", ["B", 5, CONTEXT_DIM]);
  g.output("y", layer(new Scope(g, "t"), x, ctx));
  const shapes = new Map([...g.params].map(([k, p]) => [k, p.value.shape as number[]]));
  const session = await Session.fromGraph(g, { weights: hashedWeights(shapes, 9), threads: 1 });
  sessions.push(session);
  return async (xv, cv) => {
    const { y } = await session.run({ x: xv, ctx: cv });
    return y!;
  };
}

function permuteFrames(t: Tensor, perm: number[]): Tensor {
  return frameConcat(perm.map((f) => frameSlice(t, f, f + 1)));
}

test("gegluFeedForward: net.2(h * gelu(gate)) with [h, gate] = net.0.proj(x), first half the value", async () => {
  const g = new Graph("ff");
  const x = g.input("x", "float32", [3, 2]);
  g.output("y", gegluFeedForward(new Scope(g, "ff"), x, 2, 1));
  const w = {
    "ff.net.0.proj.weight": Tensor.float32([1, 0, 0, 1, 1, 1, -1, 2], [4, 2]),
    "ff.net.0.proj.bias": Tensor.float32([0, 0.5, 0, -1]),
    "ff.net.2.weight": Tensor.float32([1, -1, 2, 0.5], [2, 2]),
    "ff.net.2.bias": Tensor.float32([0.25, 0]),
  };
  const session = await Session.fromGraph(g, { weights: new Map(Object.entries(w)), threads: 1 });
  const input = [0.3, -1.2, 2, 0.5, -0.7, -0.1];
  const { y } = await session.run({ x: Tensor.float32(input, [3, 2]) });
  const erf = (z: number) => { // Abramowitz & Stegun 7.1.26, |error| < 1.5e-7
    const t = 1 / (1 + 0.3275911 * Math.abs(z));
    const p = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
    return Math.sign(z) * (1 - p * Math.exp(-z * z));
  };
  const gelu = (z: number) => 0.5 * z * (1 + erf(z / Math.SQRT2));
  for (let r = 0; r < 3; r++) {
    const [a, b] = [input[2 * r]!, input[2 * r + 1]!];
    const h = [a, b + 0.5];
    const gate = [a + b, -a + 2 * b - 1];
    const m = [h[0]! * gelu(gate[0]!), h[1]! * gelu(gate[1]!)];
    const want = [m[0]! - m[1]! + 0.25, 2 * m[0]! + 0.5 * m[1]!];
    for (let c = 0; c < 2; c++) assert.ok(Math.abs((y!.data as Float32Array)[2 * r + c]! - want[c]!) < 1e-5);
  }
  await session.release();
});

test("transformer3d with one frame and no frame embedding is diffusers' Transformer2DModel", async () => {
  const video = await compile(1, (s, x, ctx) => transformer3d(s, x, ctx, { ...SPATIAL, temporalAttention: true, frameEmbedding: false }));
  const image = await compile(1, (s, x, ctx) => unfoldFrames(transformer2d(s, foldFrames(x), ctx, { batch: x.shape[0]!, frames: 1 }, SPATIAL), x));
  const x = randomTensor([2, C, 1, 4, 4], 1);
  const ctx = randomTensor([2, 5, CONTEXT_DIM], 2);
  assert.ok(maxAbsDiff(await video(x, ctx), await image(x, ctx)) < 1e-5);
  // with the embedding, pe[0] = (0, 1, 0, 1, ...) stays in the stream (the authors' in-place add)
  const embedded = await compile(1, (s, xv, c) => transformer3d(s, xv, c, { ...SPATIAL, temporalAttention: true, frameEmbedding: true }));
  assert.ok(maxAbsDiff(await embedded(x, ctx), await image(x, ctx)) > 1e-2);
});

test("temporal attention commutes with reordering frames, unless the frame embedding is on", async () => {
  const perm = [2, 0, 1];
  const x = randomTensor([1, C, 3, 4, 4], 3);
  const ctx = randomTensor([1, 5, CONTEXT_DIM], 4);
  for (const frameEmbedding of [false, true]) {
    const layer = await compile("F", (s, xv, c) => transformer3d(s, xv, c, { ...SPATIAL, temporalAttention: true, frameEmbedding }));
    const d = maxAbsDiff(await layer(permuteFrames(x, perm), ctx), permuteFrames(await layer(x, ctx), perm));
    if (frameEmbedding) assert.ok(d > 1e-2, `the embedding marks frame order: ${d}`);
    else assert.ok(d < 1e-5, `equivariant: ${d}`);
  }
});

test("ModelScope's TransformerTemporalModel commutes with reordering frames and mixes them", async () => {
  const cfg = { channels: C, heads: 2, headDim: 8, groups: 4 };
  const layer = await compile("F", (s, x) => {
    const [b, , f] = x.shape as [Dim, number, Dim];
    return unfoldFrames(transformerTemporal(s, foldFrames(x), { batch: b, frames: f }, cfg), x);
  });
  const x = randomTensor([2, C, 3, 4, 4], 5);
  const ctx = randomTensor([2, 5, CONTEXT_DIM], 6);
  const perm = [1, 2, 0];
  const y = await layer(x, ctx);
  assert.ok(maxAbsDiff(await layer(permuteFrames(x, perm), ctx), permuteFrames(y, perm)) < 1e-5);
  // frame 0's output depends on frame 2's input
  const changed = frameConcat([frameSlice(x, 0, 2), randomTensor([2, C, 1, 4, 4], 7)]);
  assert.ok(maxAbsDiff(frameSlice(await layer(changed, ctx), 0, 1), frameSlice(y, 0, 1)) > 1e-3);
});
