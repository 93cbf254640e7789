import { test } from "node:test";
import assert from "node:assert/strict";
import { freeNoiseStrategy, shuffledOrder, type FreeNoiseOptions } from "../../../src/pipelines/long-video/freenoise.js";
import { triangularWeights } from "../../../src/pipelines/long-video/windows.js";
import { AbortedError } from "../../../src/pipelines/long-video/common.js";
import { createScheduler } from "../../../src/schedulers/create.js";
import { SeededNoise } from "../../../src/tensor/seeded-noise.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import type { NoiseSource } from "../../../src/tensor/noise.js";
import type { VideoLength } from "../../../src/pipelines/types.js";
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
const T = 2;
const request = (length: VideoLength, calls: Call[] = [], noise: NoiseSource = new RecordedNoise(21), frames = N) =>
  tinyRequest({ frames, steps: T, length, predictor: mixingPredictor(calls), noise });

/** z_T frame by frame, read back from the windows of step 0 (the first `windows` calls). */
function startingFrames(calls: readonly Call[], starts: readonly number[], L: number): Float64Array[] {
  const frames: Float64Array[] = [];
  starts.forEach((s, k) => {
    for (let j = 0; j < N; j++) {
      const f = frameOf(calls[k].z, j);
      if (frames[s + j]) assert.deepEqual(f, frames[s + j], `windows agree on frame ${s + j}`);
      frames[s + j] = f;
    }
  });
  assert.equal(frames.filter(Boolean).length, L);
  return frames;
}

const sortedFrames = (frames: readonly Float64Array[]) => [...frames].map((f) => Array.from(f)).sort((a, b) => a[0] - b[0]);

test("freenoise: only the first window's noise is fresh; each later block of S frames is a shuffle of the frames W earlier", async () => {
  // L = 11, W = 4, S = 2: fresh frames 0-3, blocks at 4, 6, 8 and a last block of one frame at 10
  const calls: Call[] = [];
  const noise = new RecordedNoise(21);
  await collect(freeNoiseStrategy.generate(request({ frames: 11 }, calls, noise), { stride: 2 }));
  const starts = [0, 2, 4, 6, 7];
  assert.equal(calls.length, T * starts.length);
  assert.deepEqual(noise.draws.map((d) => d.shape), [[1, 2, 4, 2, 2], [2], [2], [2], [2]]);
  const z = startingFrames(calls, starts, 11);

  const first = new Tensor("float32", noise.draws[0].values, [1, 2, 4, 2, 2]);
  for (let f = 0; f < 4; f++) assert.deepEqual(z[f], frameOf(first, f));
  let swaps = 0;
  [4, 6, 8, 10].forEach((i, b) => {
    // the shuffle is the ascending order of the block's draw of 2 normals
    const [u, v] = noise.draws[b + 1].values;
    const order = u <= v ? [0, 1] : [1, 0];
    swaps += order[0];
    for (let j = 0; j < Math.min(2, 11 - i); j++) assert.deepEqual(z[i + j], z[i - 4 + order[j]], `frame ${i + j}`);
  });
  assert.ok(swaps > 0, "the seed shuffles at least one block, so order is really checked");
  // every S-aligned window holds exactly the first window's noise frames (as a multiset)
  for (const a of [0, 2, 4, 6]) assert.deepEqual(sortedFrames(z.slice(a, a + 4)), sortedFrames(z.slice(0, 4)), `window at ${a}`);
});

test("freenoise: shuffledOrder is the argsort of one draw, so a replayed draw gives the same permutation", () => {
  const fixed = (values: number[]): NoiseSource => ({ randn: () => Float32Array.from(values) });
  assert.deepEqual(shuffledOrder(fixed([0.3, -1.2, 2.0, 0.1]), 4), [1, 3, 0, 2]);
  assert.deepEqual(shuffledOrder(fixed([0.5, 0.5, -0.5]), 3), [2, 0, 1], "ties keep index order");
});

test("freenoise: frames held by several windows get the triangular-weighted average of the windows' results", async () => {
  assert.deepEqual(Array.from(triangularWeights(4)), [1, 2, 2, 1]);
  assert.deepEqual(Array.from(triangularWeights(5)), [1, 2, 3, 2, 1]);
  assert.deepEqual(Array.from(triangularWeights(1)), [1]);
  // L = 8, W = 4, S = 2: windows at 0, 2, 4, weights [1, 2, 2, 1]. Frame f: [window, position, weight] list.
  const holders: [number, number, number][][] = [
    [[0, 0, 1]],
    [[0, 1, 2]],
    [[0, 2, 2], [1, 0, 1]],
    [[0, 3, 1], [1, 1, 2]],
    [[1, 2, 2], [2, 0, 1]],
    [[1, 3, 1], [2, 1, 2]],
    [[2, 2, 2]],
    [[2, 3, 1]],
  ];
  const calls: Call[] = [];
  const chunks = await collect(freeNoiseStrategy.generate(request({ frames: 8 }, calls), { stride: 2 }));
  const output = outputFrames(chunks);
  const { timesteps, alphasCumprod } = createScheduler({ steps: T });
  let spread = 0;
  for (let i = 0; i < T; i++) {
    const abarPrev = i + 1 < T ? alphasCumprod[timesteps[i + 1]] : alphasCumprod[0];
    holders.forEach((list, f) => {
      const results = list.map(([k, j]) => ddimByHand(frameOf(calls[i * 3 + k].z, j), frameOf(calls[i * 3 + k].eps, j), alphasCumprod[timesteps[i]], abarPrev));
      const total = list.reduce((s, [, , w]) => s + w, 0);
      const fused = results[0].map((_, e) => list.reduce((s, [, , w], r) => s + w * results[r][e], 0) / total);
      if (results.length === 2) spread = Math.max(spread, maxAbsDiff(results[0], results[1]));
      const [k, j] = list[0];
      const seen = i + 1 < T ? frameOf(calls[(i + 1) * 3 + k].z, j) : output[f];
      assert.ok(maxAbsDiff(seen, fused) < 2e-6, `step ${i} frame ${f}: ${maxAbsDiff(seen, fused)}`);
    });
  }
  assert.ok(spread > 1e-3, "overlapping windows disagree, so the weights matter");
});

test("freenoise: same seed, same bytes; a replay of the recorded draws reproduces the video", async () => {
  const recorded = new RecordedNoise(4);
  const a = chunkBytes(await collect(freeNoiseStrategy.generate(request({ frames: 9 }, [], recorded), { stride: 1 })));
  assert.ok(a.equals(chunkBytes(await collect(freeNoiseStrategy.generate(request({ frames: 9 }, [], new SeededNoise(4)), { stride: 1 })))));
  let next = 0;
  const replay: NoiseSource = { randn: () => recorded.draws[next++].values.slice() };
  assert.ok(a.equals(chunkBytes(await collect(freeNoiseStrategy.generate(request({ frames: 9 }, [], replay), { stride: 1 })))));
  assert.equal(next, recorded.draws.length);
  assert.ok(!a.equals(chunkBytes(await collect(freeNoiseStrategy.generate(request({ frames: 9 }, [], new SeededNoise(5)), { stride: 1 })))));
});

test("freenoise: defaults W = N, S = N / 4; bad options get errors naming them; abort", async () => {
  const calls: Call[] = [];
  await collect(freeNoiseStrategy.generate(request({ clips: 2 }, calls, new SeededNoise(1), 8), {}));
  assert.deepEqual(calls.slice(0, 5).map((c) => c.prompt), [[0, 8], [2, 10], [4, 12], [6, 14], [8, 16]]);
  assert.equal(calls.length, 5 * T);

  const bad = (options: FreeNoiseOptions, pattern: RegExp, length: VideoLength = { frames: 9 }) =>
    assert.throws(() => freeNoiseStrategy.validate(request(length), options), (e: unknown) => e instanceof RangeError && pattern.test(e.message), JSON.stringify(options));
  bad({ window: 8 }, /window is 8; allowed: an integer in \[1, 4\]/);
  bad({ stride: 5 }, /stride is 5; allowed: an integer in \[1, 4\]/);
  bad({ stride: -1 }, /stride is -1/);
  bad({}, /frames is 2; allowed: at least window = 4/, { frames: 2 });
  bad({ weights: "flat" } as FreeNoiseOptions, /"weights" is unknown/);

  const seen: Call[] = [];
  const error = await abortAfter((signal, onProgress) => freeNoiseStrategy.generate({ ...request({ frames: 9 }, seen), signal, onProgress }, {}), 2);
  assert.ok(error instanceof AbortedError);
  assert.equal(seen.length, 2);
});
