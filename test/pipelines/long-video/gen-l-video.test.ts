import { test } from "node:test";
import assert from "node:assert/strict";
import { genLVideoStrategy } from "../../../src/pipelines/long-video/gen-l-video.js";
import { AbortedError } from "../../../src/pipelines/long-video/common.js";
import { createScheduler } from "../../../src/schedulers/create.js";
import { SeededNoise } from "../../../src/tensor/seeded-noise.js";
import type { GenLVideoOptions } from "../../../src/pipelines/long-video/gen-l-video.js";
import type { VideoLength } from "../../../src/pipelines/types.js";
import type { NoiseSource } from "../../../src/tensor/noise.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import {
  abortAfter,
  chunkBytes,
  collect,
  ddimByHand,
  frameOf,
  maxAbsDiff,
  mixingPredictor,
  outputFrames,
  RecordedNoise,
  tinyRequest,
  type Call,
} from "./peer-helpers.js";

const N = 4;
const T = 3;
const request = (length: VideoLength, calls: Call[] = [], noise: NoiseSource = new RecordedNoise(3)) =>
  tinyRequest({ frames: N, steps: T, length, predictor: mixingPredictor(calls), noise });

test("gen-l-video: every step, each frame becomes the average of the DDIM results of the windows that hold it", async () => {
  // L = 9, W = 4, S = 2: windows start at 0, 2, 4 and, flush with the end, 5
  const starts = [0, 2, 4, 5];
  const calls: Call[] = [];
  const noise = new RecordedNoise(3);
  const chunks = await collect(genLVideoStrategy.generate(request({ frames: 9 }, calls, noise), {}));
  const { timesteps, alphasCumprod } = createScheduler({ steps: T });

  assert.equal(calls.length, T * starts.length);
  assert.equal(noise.draws.length, 1);
  assert.deepEqual(noise.draws[0].shape, [1, 2, 9, 2, 2], "z_T of the whole video in one draw");
  for (let i = 0; i < T; i++) {
    for (let k = 0; k < starts.length; k++) {
      const call = calls[i * starts.length + k];
      assert.deepEqual(call.prompt, [starts[k], starts[k] + N], "each window under the prompt of its own frames");
      assert.equal(call.t, timesteps[i]);
      assert.deepEqual(call.z.shape, [1, 2, N, 2, 2]);
    }
  }
  // step 0 sees the drawn noise
  const zT = new Tensor("float32", noise.draws[0].values, [1, 2, 9, 2, 2]);
  for (let k = 0; k < starts.length; k++) {
    for (let j = 0; j < N; j++) assert.deepEqual(frameOf(calls[k].z, j), frameOf(zT, starts[k] + j));
  }

  const output = outputFrames(chunks);
  assert.equal(output.length, 9);
  let overlapSpread = 0;
  for (let i = 0; i < T; i++) {
    const abarT = alphasCumprod[timesteps[i]];
    const abarPrev = i + 1 < T ? alphasCumprod[timesteps[i + 1]] : alphasCumprod[0];
    for (let f = 0; f < 9; f++) {
      const holders = starts.map((s, k) => ({ s, k })).filter(({ s }) => f >= s && f < s + N);
      assert.ok(holders.length >= 1, `frame ${f} is covered`);
      const results = holders.map(({ s, k }) => {
        const call = calls[i * starts.length + k];
        return ddimByHand(frameOf(call.z, f - s), frameOf(call.eps, f - s), abarT, abarPrev);
      });
      const average = results[0].map((_, e) => results.reduce((sum, r) => sum + r[e], 0) / results.length);
      if (results.length > 1) overlapSpread = Math.max(overlapSpread, maxAbsDiff(results[0], results[1]));
      // x_{t-1} of frame f: what every window holding it sees at the next step, or the output after the last
      const seen = i + 1 < T ? holders.map(({ s, k }) => frameOf(calls[(i + 1) * starts.length + k].z, f - s)) : [output[f]];
      for (const x of seen) assert.ok(maxAbsDiff(x, average) < 2e-6, `step ${i} frame ${f}: ${maxAbsDiff(x, average)}`);
    }
  }
  assert.ok(overlapSpread > 1e-3, "the windows disagree on shared frames, so the average is a real check");

  // one chunk per window, the whole window as context, only unseen frames new
  assert.deepEqual(
    chunks.map((c) => [c.clip, c.latents.shape[2], c.emitStart, c.emitEnd, c.firstFrame]),
    [[0, 4, 0, 4, 0], [1, 4, 2, 4, 4], [2, 4, 2, 4, 6], [3, 4, 3, 4, 8]],
  );
});

test("gen-l-video: defaults W = N, S = N / 2; clips K mean K * N frames; progress per window", async () => {
  const calls: Call[] = [];
  const evaluations: number[] = [];
  const req = { ...request({ clips: 2 }, calls), onProgress: (p: { evaluations: number; clips: number }) => evaluations.push(p.evaluations * 100 + p.clips) };
  const chunks = await collect(genLVideoStrategy.generate(req, {}));
  assert.equal(outputFrames(chunks).length, 8);
  assert.deepEqual(calls.slice(0, 3).map((c) => c.prompt), [[0, 4], [2, 6], [4, 8]]);
  assert.equal(calls.length, 3 * T);
  assert.equal(evaluations[evaluations.length - 1], 9 * 100 + 3);
  // a window of 2, stride 1 over 5 frames: 4 windows per step
  const small: Call[] = [];
  await collect(genLVideoStrategy.generate(request({ frames: 5 }, small), { window: 2, stride: 1 }));
  assert.deepEqual(small.slice(0, 4).map((c) => c.prompt), [[0, 2], [1, 3], [2, 4], [3, 5]]);
});

test("gen-l-video: bad window, stride or length get errors naming the option", () => {
  const bad = (options: GenLVideoOptions, pattern: RegExp, length: VideoLength = { frames: 9 }) =>
    assert.throws(() => genLVideoStrategy.validate(request(length), options), (e: unknown) => e instanceof RangeError && pattern.test(e.message), `${JSON.stringify(options)}`);
  bad({ window: 5 }, /window is 5; allowed: an integer in \[1, 4\].*clip length/);
  bad({ window: 0 }, /window is 0/);
  bad({ window: 2.5 }, /window is 2.5/);
  bad({ stride: 0 }, /stride is 0; allowed: an integer in \[1, 4\]/);
  bad({ window: 2, stride: 3 }, /stride is 3; allowed: an integer in \[1, 2\]/);
  bad({}, /frames is 3; allowed: at least window = 4/, { frames: 3 });
  bad({ strid: 2 } as GenLVideoOptions, /"strid" is unknown; allowed: window, stride/);
  assert.doesNotThrow(() => genLVideoStrategy.validate(request({ frames: 2 }), { window: 2 }));
});

test("gen-l-video: same seed, same bytes; abort stops before the next call", async () => {
  const run = (seed: number) => collect(genLVideoStrategy.generate(request({ frames: 7 }, [], new SeededNoise(seed)), {}));
  const a = chunkBytes(await run(1));
  assert.ok(a.equals(chunkBytes(await run(1))));
  assert.ok(!a.equals(chunkBytes(await run(2))));
  const calls: Call[] = [];
  const error = await abortAfter((signal, onProgress) => genLVideoStrategy.generate({ ...request({ frames: 7 }, calls), signal, onProgress }, {}), 3);
  assert.ok(error instanceof AbortedError);
  assert.equal(calls.length, 3);
});
