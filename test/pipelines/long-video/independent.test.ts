import { test } from "node:test";
import assert from "node:assert/strict";
import { independentStrategy } from "../../../src/pipelines/long-video/independent.js";
import { AbortedError } from "../../../src/pipelines/long-video/common.js";
import { createScheduler } from "../../../src/schedulers/create.js";
import { SeededNoise } from "../../../src/tensor/seeded-noise.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import type { Progress } from "../../../src/pipelines/types.js";
import { abortAfter, chunkBytes, collect, mixingPredictor, outputFrames, rangePrompt, RecordedNoise, tinyRequest, type Call } from "./peer-helpers.js";

const N = 4;
const T = 3;

test("independent: clip k is a plain DDIM text-to-clip run on the k-th noise draw, under the prompt of its frames", async () => {
  const calls: Call[] = [];
  const noise = new RecordedNoise(11);
  const chunks = await collect(independentStrategy.generate(tinyRequest({ frames: N, steps: T, length: { clips: 3 }, predictor: mixingPredictor(calls), noise }), {}));

  assert.equal(noise.draws.length, 3, "one draw per clip, nothing else (DDIM eta 0)");
  assert.equal(calls.length, 3 * T);
  const scheduler = createScheduler({ steps: T });
  const predictor = mixingPredictor([]);
  for (let k = 0; k < 3; k++) {
    assert.deepEqual(noise.draws[k].shape, [1, 2, N, 2, 2]);
    // the plain loop of src/schedulers/types.ts on draw k
    let x = noise.draws[k].values;
    let state = scheduler.initialState();
    for (let i = 0; i < T; i++) {
      const eps = await predictor(new Tensor("float32", x, [1, 2, N, 2, 2]), scheduler.timesteps[i], rangePrompt(k * N, (k + 1) * N));
      ({ prevSample: x, state } = scheduler.step({ stepIndex: i, modelOutput: eps.data as Float32Array, sample: x, state }));
    }
    const chunk = chunks[k];
    assert.equal(chunk.clip, k);
    assert.equal(chunk.firstFrame, k * N);
    assert.deepEqual([chunk.emitStart, chunk.emitEnd], [0, N]);
    assert.deepEqual(chunk.latents.data, x, `clip ${k}`);
    assert.deepEqual(calls[k * T].prompt, [k * N, (k + 1) * N]);
  }
  assert.equal(outputFrames(chunks).length, 3 * N);
});

test("independent: frames must be a multiple of N; the options object takes no fields", async () => {
  const req = (length: { frames: number } | { clips: number }) => tinyRequest({ frames: N, steps: T, length, predictor: mixingPredictor([]) });
  assert.equal(outputFrames(await collect(independentStrategy.generate(req({ frames: 8 }), {}))).length, 8);
  assert.throws(() => independentStrategy.validate(req({ frames: 10 }), {}), (e: unknown) => e instanceof RangeError && /frames is 10/.test(e.message) && /8 or 12/.test(e.message));
  assert.throws(() => independentStrategy.validate(req({ clips: 0 }), {}), /clips is 0/);
  assert.throws(() => independentStrategy.validate(req({ clips: 1 }), { overlap: 2 } as never), (e: unknown) => e instanceof RangeError && /"overlap" is unknown/.test(e.message));
  assert.throws(
    () => independentStrategy.validate({ ...req({ clips: 1 }), clip: { batch: 1, channels: 2, frames: 0, height: 2, width: 2 } }, {}),
    /clip.frames is 0/,
  );
  assert.throws(() => independentStrategy.validate({ ...req({ clips: 1 }), scheduler: { name: "ddim_inverse", steps: T } }, {}), /ddim_inverse/);
});

test("independent: same seed, same bytes; another seed, other bytes", async () => {
  const run = (seed: number) => collect(independentStrategy.generate(tinyRequest({ frames: N, steps: T, length: { clips: 2 }, predictor: mixingPredictor([]), noise: new SeededNoise(seed) }), {}));
  const a = chunkBytes(await run(5));
  assert.ok(a.equals(chunkBytes(await run(5))));
  assert.ok(!a.equals(chunkBytes(await run(6))));
});

test("independent: progress counts every evaluation; an abort stops before the next denoiser call", async () => {
  const seen: Progress[] = [];
  await collect(independentStrategy.generate(tinyRequest({ frames: N, steps: T, length: { clips: 2 }, predictor: mixingPredictor([]), onProgress: (p) => seen.push(p) }), {}));
  assert.deepEqual(seen.map((p) => [p.clip, p.clips, p.step, p.steps, p.evaluations]), [
    [0, 2, 1, 3, 1], [0, 2, 2, 3, 2], [0, 2, 3, 3, 3], [1, 2, 1, 3, 4], [1, 2, 2, 3, 5], [1, 2, 3, 3, 6],
  ]);

  const calls: Call[] = [];
  const error = await abortAfter((signal, onProgress) => independentStrategy.generate(tinyRequest({ frames: N, steps: T, length: { clips: 2 }, predictor: mixingPredictor(calls), signal, onProgress }), {}), 4);
  assert.ok(error instanceof AbortedError);
  assert.equal(calls.length, 4);
  const aborted = AbortSignal.abort();
  await assert.rejects(collect(independentStrategy.generate(tinyRequest({ frames: N, steps: T, length: { clips: 1 }, predictor: mixingPredictor([]), signal: aborted }), {})), AbortedError);
});
