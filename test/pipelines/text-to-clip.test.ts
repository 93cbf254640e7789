import { test } from "node:test";
import assert from "node:assert/strict";
import { createScheduler } from "../../src/schedulers/create.js";
import { SeededNoise } from "../../src/tensor/seeded-noise.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { AbortedError } from "../../src/pipelines/long-video/common.js";
import { denoiseClip, frameBatchNoise, textToClip } from "../../src/pipelines/text-to-clip.js";
import type { NoiseSource } from "../../src/tensor/noise.js";
import type { NoisePredictor, Progress } from "../../src/pipelines/types.js";
import { type Call, ShapeRecorder, TINY_CLIP, mixingPredictor, promptOf } from "./helpers.js";

const zeroEps: NoisePredictor = async (z) => new Tensor("float32", new Float32Array(z.size), z.shape);

test("eps = 0: DDIM scales z_T by sqrt(alpha_bar_0 / alpha_bar_981), the product of its steps", async () => {
  const noise = new ShapeRecorder(new SeededNoise(3));
  const out = await textToClip({ predictor: zeroEps, prompt: promptOf(1), clip: TINY_CLIP, noise });
  assert.deepEqual(noise.shapes, [[1, 2, 8, 2, 3]], "one draw of the clip shape");
  // each step: x0 = x / sqrt(abar_t), x_prev = sqrt(abar_prev) x0; telescoping to the final alpha_bar_0
  const abar = createScheduler().alphasCumprod;
  const factor = Math.sqrt(abar[0]! / abar[981]!);
  noise.draws[0]!.forEach((v, k) => assert.ok(Math.abs(out.data[k]! - v * factor) < 1e-5 * Math.max(1, Math.abs(v * factor)), `element ${k}`));
  assert.deepEqual(out.shape, [1, 2, 8, 2, 3]);
});

test("the predictor sees every timestep in order, the prompt, and z at the sampler's scale", async () => {
  const calls: Call[] = [];
  const prompt = promptOf(2);
  await textToClip({ predictor: mixingPredictor(calls), prompt, scheduler: { steps: 10 }, clip: TINY_CLIP, noise: new SeededNoise(1) });
  assert.deepEqual(calls.map((c) => c.t), [901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
  assert.ok(calls.every((c) => c.prompt === prompt));
  // Euler: z_T has std sigma_max * ..., the model is fed z / sqrt(sigma^2 + 1), std about 1
  const euler: Call[] = [];
  await textToClip({ predictor: mixingPredictor(euler), prompt, scheduler: { name: "euler", steps: 10 }, clip: { ...TINY_CLIP, height: 16, width: 16 }, noise: new SeededNoise(1) });
  const x = euler[0]!.z.data as Float32Array;
  const std = Math.sqrt(x.reduce((a, v) => a + v * v, 0) / x.length);
  assert.ok(std > 0.9 && std < 1.1, `scaled model input std ${std}`);
});

test("beforeStep sees z_i before the model call and what it returns is what the model gets", async () => {
  const calls: Call[] = [];
  const scheduler = createScheduler({ steps: 4 });
  const seen: number[] = [];
  const start = new Tensor("float32", new Float32Array(2 * 8 * 6).fill(1), [1, 2, 8, 2, 3]);
  await denoiseClip({
    scheduler,
    predictor: mixingPredictor(calls),
    prompt: promptOf(1),
    start,
    noise: new SeededNoise(0),
    beforeStep: (i, z) => {
      seen.push(i);
      return i === 2 ? new Tensor("float32", new Float32Array(z.size).fill(7), z.shape) : z;
    },
  });
  assert.deepEqual(seen, [0, 1, 2, 3]);
  assert.ok((calls[2]!.z.data as Float32Array).every((v) => v === 7));
  assert.ok((calls[0]!.z.data as Float32Array).every((v) => v === 1));
  assert.ok((start.data as Float32Array).every((v) => v === 1), "start is not modified");
});

test("progress once per step; an abort stops between steps with AbortedError", async () => {
  const seen: Progress[] = [];
  await textToClip({ predictor: zeroEps, prompt: promptOf(1), scheduler: { steps: 6 }, clip: TINY_CLIP, noise: new SeededNoise(1), onProgress: (p) => seen.push(p) });
  assert.deepEqual(seen.map((p) => [p.clip, p.clips, p.step, p.steps, p.evaluations]), [1, 2, 3, 4, 5, 6].map((s) => [0, 1, s, 6, s]));
  const controller = new AbortController();
  const calls: Call[] = [];
  const run = textToClip({
    predictor: mixingPredictor(calls),
    prompt: promptOf(1),
    scheduler: { steps: 6 },
    clip: TINY_CLIP,
    noise: new SeededNoise(1),
    signal: controller.signal,
    onProgress: (p) => p.step === 2 && controller.abort(),
  });
  await assert.rejects(run, (e: unknown) => e instanceof AbortedError && /generation was aborted/.test((e as Error).message));
  assert.equal(calls.length, 2);
});

test("a predictor returning the wrong shape, or a bad clip, fails clearly", async () => {
  const bad: NoisePredictor = async () => new Tensor("float32", new Float32Array(4), [4]);
  await assert.rejects(textToClip({ predictor: bad, prompt: promptOf(1), clip: TINY_CLIP, noise: new SeededNoise(1) }), /the noise predictor returned float32\[4\] at step 0; expected float32\[1, 2, 8, 2, 3\]/);
  await assert.rejects(textToClip({ predictor: zeroEps, prompt: promptOf(1), clip: { ...TINY_CLIP, height: 0 }, noise: new SeededNoise(1) }), /clip\.height is 0; allowed: an integer >= 1/);
});

/** Draw n returns 1000 n + k at element k, and its shape is recorded. */
class CountingNoise implements NoiseSource {
  readonly shapes: number[][] = [];
  randn(shape: readonly number[]): Float32Array {
    const n = this.shapes.length;
    this.shapes.push([...shape]);
    return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, k) => 1000 * n + k);
  }
}

test("frameBatchNoise: asked for [B, C, F, H, W], draws [B*F, C, H, W] and returns it reshaped to [B, F, C, H, W], F and C swapped", () => {
  const one = new CountingNoise();
  // [F = 3, C = 2] rows (f0c0, f0c1, f1c0, f1c1, f2c0, f2c1) -> channel 0: f0 f1 f2, channel 1: f0 f1 f2
  assert.deepEqual(Array.from(frameBatchNoise(one).randn([1, 2, 3, 1, 1])), [0, 2, 4, 1, 3, 5]);
  assert.deepEqual(one.shapes, [[3, 2, 1, 1]]);
  const two = new CountingNoise();
  // B = 2, C = 2, F = 2, planes of H W = 2 move whole: draw rows (b, f, c) = 000 001 010 011 100 101 110 111
  assert.deepEqual(Array.from(frameBatchNoise(two).randn([2, 2, 2, 1, 2])), [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]);
  assert.deepEqual(two.shapes, [[4, 2, 1, 2]]);
  // other ranks pass through untouched
  const flat = new CountingNoise();
  assert.deepEqual(Array.from(frameBatchNoise(flat).randn([3])), [0, 1, 2]);
  assert.deepEqual(flat.shapes, [[3]]);
});

test("stepNoiseLayout frame-batch: DDIM eta 1 draws [B*F, C, H, W] per step and steps with it permuted to [B, C, F, H, W]", async () => {
  const scheduler = createScheduler({ steps: 3, eta: 1 });
  const [B, C, F, H, W] = [2, 2, 3, 1, 2];
  const start = new Tensor("float32", new SeededNoise(4).randn([B, C, F, H, W]), [B, C, F, H, W]);
  const base = { scheduler, predictor: mixingPredictor(), prompt: promptOf(1), start };
  const recorded = new ShapeRecorder(new SeededNoise(9));
  const out = await denoiseClip({ ...base, noise: recorded, stepNoiseLayout: "frame-batch" });
  assert.deepEqual(recorded.shapes, [[6, 2, 1, 2], [6, 2, 1, 2], [6, 2, 1, 2]]);
  // the same steps fed, in the default layout, each draw permuted by hand: (b, c, f, p) <- row b F + f, channel c
  const permuted = recorded.draws.map((d) => {
    const o = new Float32Array(d.length);
    for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let f = 0; f < F; f++) for (let p = 0; p < H * W; p++) {
      o[((b * C + c) * F + f) * H * W + p] = d[((b * F + f) * C + c) * H * W + p]!;
    }
    return o;
  });
  let n = 0;
  const replay: NoiseSource = { randn: (shape) => (assert.deepEqual(shape, [B, C, F, H, W]), permuted[n++]!.slice()) };
  const expected = await denoiseClip({ ...base, noise: replay });
  assert.equal(n, 3);
  assert.deepEqual(Array.from(out.data), Array.from(expected.data));
  // and the order matters: the draws unpermuted give another result
  const plain = await denoiseClip({ ...base, noise: new SeededNoise(9) });
  assert.notDeepEqual(Array.from(plain.data), Array.from(out.data));
  await assert.rejects(denoiseClip({ ...base, noise: recorded, stepNoiseLayout: "bfchw" as "clip" }), /stepNoiseLayout is "bfchw"; allowed: clip, frame-batch/);
});
