import { test } from "node:test";
import assert from "node:assert/strict";
import { createScheduler } from "../../src/schedulers/create.js";
import { SeededNoise } from "../../src/tensor/seeded-noise.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { AbortedError } from "../../src/pipelines/long-video/common.js";
import { denoiseClip, textToClip } from "../../src/pipelines/text-to-clip.js";
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
