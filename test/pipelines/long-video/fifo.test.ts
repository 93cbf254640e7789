import { test } from "node:test";
import assert from "node:assert/strict";
import { fifoStrategy, type FifoOptions } from "../../../src/pipelines/long-video/fifo.js";
import { AbortedError } from "../../../src/pipelines/long-video/common.js";
import { createScheduler } from "../../../src/schedulers/create.js";
import { SeededNoise } from "../../../src/tensor/seeded-noise.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import type { NoiseSource } from "../../../src/tensor/noise.js";
import type { SchedulerConfig } from "../../../src/schedulers/config.js";
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
const T = 8; // n = 2 partitions of 4
const { timesteps: ts, alphasCumprod: abar } = createScheduler({ steps: T });
// The mechanics tests pin the sampler ("leading" spacing, eta 0 unless given) so their hand derivations hold;
// the defaults (the authors' linspace and eta 1) have a test of their own below.
const request = (length: VideoLength, calls: Call[] = [], noise: NoiseSource = new RecordedNoise(9), frames = N, scheduler: SchedulerConfig = {}) =>
  tinyRequest({ frames, steps: scheduler.steps ?? T, length, predictor: mixingPredictor(calls), noise, scheduler: { spacing: "leading", eta: 0, ...scheduler } });

/** alpha_bar of step index i and of the level after it (alpha_bar_0 after the last: setAlphaToOne false). */
const level = (i: number) => abar[ts[i]];
const below = (i: number) => (i + 1 < T ? abar[ts[i + 1]] : abar[0]);

/** The queue seen at iteration k, position by position, from that iteration's calls (windows at `starts`). */
function queueAt(calls: readonly Call[], k: number, starts: readonly number[], length: number): Float64Array[] {
  const q: Float64Array[] = [];
  starts.forEach((s, r) => {
    const call = calls[T + k * starts.length + r];
    for (let j = 0; j < N; j++) {
      const f = frameOf(call.z, j);
      if (q[s + j]) assert.deepEqual(f, q[s + j], `windows agree on queue position ${s + j}`);
      q[s + j] = f;
    }
  });
  assert.equal(q.filter(Boolean).length, length);
  return q;
}
const epsAt = (calls: readonly Call[], k: number, windows: number, r: number, j: number) => frameOf(calls[T + k * windows + r].eps, j);

test("fifo: a queue of increasing noise levels; every frame drops one level per iteration; the clean head leaves", async () => {
  // no lookahead: queue of T = 8 positions, partitions [0, 4) and [4, 8); L = 5 output frames after a warm-up of T - N = 4
  const calls: Call[] = [];
  const noise = new RecordedNoise(9);
  const chunks = await collect(fifoStrategy.generate(request({ frames: 5 }, calls, noise), { lookahead: false }));
  const iterations = 5 + 4;
  assert.equal(calls.length, T + iterations * 2, "the base clip's T calls, then n = 2 calls per iteration");
  assert.deepEqual(noise.draws.map((d) => d.shape), [[1, 2, 4, 2, 2], [1, 2, 8, 2, 2], ...Array(iterations - 1).fill([1, 2, 1, 2, 2])]);

  // per-frame timesteps: each partition's levels rise strictly along the queue, the queue holds every level once
  for (let k = 0; k < iterations; k++) {
    const levels = [0, 1].flatMap((r) => calls[T + 2 * k + r].t as number[]);
    assert.deepEqual(levels, [...ts].reverse());
    for (const r of [0, 1]) {
      const t = calls[T + 2 * k + r].t as number[];
      assert.ok(t.every((v, j) => j === 0 || v > t[j - 1]), `iteration ${k} partition ${r}: ${t}`);
    }
  }
  // initialisation: the base clip's frame max(0, q - 4) re-noised to the level of position q
  const base = new Tensor("float32", Float32Array.from(ddimByHand(calls[T - 1].z.data, calls[T - 1].eps.data, level(T - 1), abar[0])), [1, 2, 4, 2, 2]);
  const renoise = new Tensor("float32", noise.draws[1].values, [1, 2, 8, 2, 2]);
  const q0 = queueAt(calls, 0, [0, 4], 8);
  for (let q = 0; q < 8; q++) {
    const a = level(T - 1 - q);
    const expected = frameOf(base, Math.max(0, q - 4)).map((x, e) => Math.sqrt(a) * x + Math.sqrt(1 - a) * frameOf(renoise, q)[e]);
    assert.ok(maxAbsDiff(q0[q], expected) < 1e-6, `initial queue position ${q}`);
  }
  // one DDIM step per frame from its own level to the next lower one, then a shift towards the head
  for (let k = 0; k + 1 < iterations; k++) {
    const now = queueAt(calls, k, [0, 4], 8);
    const next = queueAt(calls, k + 1, [0, 4], 8);
    for (let q = 1; q < 8; q++) {
      const i = T - 1 - q;
      const expected = ddimByHand(now[q], epsAt(calls, k, 2, Math.floor(q / 4), q % 4), level(i), below(i));
      assert.ok(maxAbsDiff(next[q - 1], expected) < 2e-6, `iteration ${k}, position ${q} -> ${q - 1}`);
    }
    assert.deepEqual(next[7], Float64Array.from(noise.draws[2 + k].values), "fresh noise enters at the tail");
  }
  // the head leaves at the final level (alpha_bar_0): output frame j after warm-up iteration 4 + j
  const output = outputFrames(chunks);
  assert.equal(output.length, 5);
  for (let j = 0; j < 5; j++) {
    const expected = ddimByHand(queueAt(calls, 4 + j, [0, 4], 8)[0], epsAt(calls, 4 + j, 2, 0, 0), level(T - 1), abar[0]);
    assert.ok(maxAbsDiff(output[j], expected) < 2e-6, `output frame ${j}`);
  }
  assert.deepEqual(chunks.map((c) => [c.clip, c.latents.shape[2], c.firstFrame]), [[0, 4, 0], [1, 1, 4]]);
  // prompts follow the output frames a partition holds, clamped into the video
  assert.deepEqual(calls[T].prompt, [0, 1]);
  assert.deepEqual(calls[T + 1].prompt, [0, 4]);
  assert.deepEqual(calls[T + 2 * 8].prompt, [4, 5]);
  assert.deepEqual(calls[T + 2 * 1 + 1].prompt, [1, 5]);
  assert.deepEqual(calls[T + 2 * 3 + 1].prompt, [3, 5]);
});

test("fifo: lookahead denoising updates only the later half of each window of N shifted by N / 2", async () => {
  // lookahead (the default): 2 context positions before the head, queue of 10, windows at 0, 2, 4, 6
  const calls: Call[] = [];
  const noise = new RecordedNoise(13);
  const chunks = await collect(fifoStrategy.generate(request({ frames: 3 }, calls, noise), {}));
  const starts = [0, 2, 4, 6];
  const iterations = 3 + 4;
  assert.equal(calls.length, T + iterations * 4, "2n calls per iteration");
  const stepAt = (p: number) => T - 1 - Math.max(0, p - 2);
  for (let k = 0; k < iterations; k++) {
    starts.forEach((s, r) => {
      const t = calls[T + 4 * k + r].t as number[];
      assert.deepEqual(t, [0, 1, 2, 3].map((j) => ts[stepAt(s + j)]));
      assert.ok(t.every((v, j) => j === 0 || (s + j <= 2 ? v === t[j - 1] : v > t[j - 1])), "context at the head's level, then strictly rising");
    });
  }
  let alternativeGap = 0;
  for (let k = 0; k + 1 < iterations; k++) {
    const now = queueAt(calls, k, starts, 10);
    const next = queueAt(calls, k + 1, starts, 10);
    assert.deepEqual(next[0], now[1], "context positions are never updated, only shifted");
    for (let p = 2; p < 10; p++) {
      const i = stepAt(p);
      const r = Math.floor((p - 2) / 2); // the window whose later half holds p
      const expected = ddimByHand(now[p], epsAt(calls, k, 4, r, p - 2 * r), level(i), below(i));
      assert.ok(maxAbsDiff(next[p - 1], expected) < 2e-6, `iteration ${k}, position ${p}`);
      if (r + 1 < 4) {
        const alternative = ddimByHand(now[p], epsAt(calls, k, 4, r + 1, p - 2 * (r + 1)), level(i), below(i));
        alternativeGap = Math.max(alternativeGap, maxAbsDiff(alternative, expected));
      }
    }
    assert.deepEqual(next[9], Float64Array.from(noise.draws[2 + k].values));
  }
  assert.ok(alternativeGap > 1e-4, "the first-half result differs, so taking the later half is really checked");
  const output = outputFrames(chunks);
  assert.equal(output.length, 3);
  for (let j = 0; j < 3; j++) {
    const expected = ddimByHand(queueAt(calls, 4 + j, starts, 10)[2], epsAt(calls, 4 + j, 4, 0, 2), level(T - 1), abar[0]);
    assert.ok(maxAbsDiff(output[j], expected) < 2e-6, `output frame ${j}`);
  }
});

test("fifo: eta > 0 adds sigma_t z per frame, z drawn per call for the frames it updates", async () => {
  const calls: Call[] = [];
  const noise = new RecordedNoise(2);
  await collect(fifoStrategy.generate(request({ frames: 1 }, calls, noise, N, { eta: 1 }), { lookahead: false }));
  // draws: base z_T, the base clip's 8 DDIM steps, the re-noising, then iteration 0's two partitions
  const z1 = new Tensor("float32", noise.draws[11].values, [1, 2, 4, 2, 2]);
  assert.deepEqual(noise.draws[11].shape, [1, 2, 4, 2, 2]);
  const now = queueAt(calls, 0, [0, 4], 8);
  const next = queueAt(calls, 1, [0, 4], 8);
  for (let q = 4; q < 8; q++) {
    const at = level(T - 1 - q);
    const ap = below(T - 1 - q);
    const sigma = Math.sqrt((1 - ap) / (1 - at)) * Math.sqrt(1 - at / ap);
    const eps = epsAt(calls, 0, 2, 1, q - 4);
    const zq = frameOf(z1, q - 4);
    const expected = now[q].map((x, e) => {
      const x0 = (x - Math.sqrt(1 - at) * eps[e]) / Math.sqrt(at);
      return Math.sqrt(ap) * x0 + Math.sqrt(1 - ap - sigma * sigma) * eps[e] + sigma * zq[e];
    });
    assert.ok(maxAbsDiff(next[q - 1], expected) < 2e-6, `position ${q}`);
  }
});

test("fifo: steps must fill the queue (n * N); DDIM only; lookahead needs an even N; clear errors", () => {
  const bad = (options: FifoOptions, pattern: RegExp, scheduler: SchedulerConfig = {}, frames = N) =>
    assert.throws(() => fifoStrategy.validate(request({ frames: 5 }, [], new SeededNoise(1), frames, scheduler), options), (e: unknown) => e instanceof RangeError && pattern.test(e.message), `${JSON.stringify(options)} ${JSON.stringify(scheduler)}`);
  bad({}, /scheduler.steps is 10; fifo allows: a multiple of clip.frames 4 .* e.g. 8 or 12/, { steps: 10 });
  bad({}, /scheduler.steps is 2; .*e.g. 4/, { steps: 2 });
  bad({}, /scheduler.steps is 50; .*e.g. 48 or 56/, { steps: 50 }, 8);
  bad({ partitions: 3 }, /scheduler.steps is 8; fifo with partitions 3 and clip.frames 4 allows: steps = partitions \* clip.frames = 12/);
  bad({ partitions: 0 }, /partitions is 0/);
  bad({}, /scheduler.name is "ddpm"; fifo allows: ddim/, { name: "ddpm" });
  bad({}, /lookahead is true with clip.frames 3/, { steps: 6 }, 3);
  bad({ lookahead: "yes" as unknown as boolean }, /lookahead is "yes"; allowed: true, false/);
  bad({ lookhead: true } as FifoOptions, /"lookhead" is unknown; allowed: partitions, lookahead/);
  assert.doesNotThrow(() => fifoStrategy.validate(request({ frames: 5 }, [], new SeededNoise(1), 3, { steps: 6 }), { lookahead: false }));
  assert.doesNotThrow(() => fifoStrategy.validate(request({ frames: 5 }, [], new SeededNoise(1), 8, { steps: 48 }), { partitions: 6 }));
});

test("fifo: same seed, same bytes; progress counts every call; abort stops before the next call", async () => {
  const run = (seed: number) => collect(fifoStrategy.generate(request({ clips: 2 }, [], new SeededNoise(seed)), {}));
  const a = chunkBytes(await run(3));
  assert.ok(a.equals(chunkBytes(await run(3))));
  assert.ok(!a.equals(chunkBytes(await run(4))));

  let last = 0;
  await collect(fifoStrategy.generate({ ...request({ frames: 6 }), onProgress: (p) => (last = p.evaluations) }, {}));
  assert.equal(last, T + (6 + T - N) * 4, "T for the base clip, then 2n per iteration");

  for (const after of [3, T + 5]) {
    const calls: Call[] = [];
    const error = await abortAfter((signal, onProgress) => fifoStrategy.generate({ ...request({ frames: 6 }, calls), signal, onProgress }, {}), after);
    assert.ok(error instanceof AbortedError, `abort after ${after}`);
    assert.equal(calls.length, after);
  }
});

test("fifo defaults to the authors' sampler: timesteps linspace(0, 999, T) rounded, and eta 1 (a draw per updated frame)", async () => {
  const calls: Call[] = [];
  const noise = new RecordedNoise(4);
  await collect(fifoStrategy.generate(tinyRequest({ frames: N, steps: T, length: { frames: 1 }, predictor: mixingPredictor(calls), noise }), { lookahead: false }));
  // linspace(0, 999, 8) = 0, 142.71, ..., 999 rounded half to even, visited from the top
  const expected = [999, 856, 714, 571, 428, 285, 143, 0];
  assert.deepEqual(calls.slice(0, T).map((c) => c.t), expected); // the base clip: one level per call
  const queueCall = calls[T]!; // the first diagonal call: the head partition holds levels 0 .. 3 (head first)
  assert.deepEqual(queueCall.t, [0, 143, 285, 428]);
  assert.deepEqual(calls[T + 1]!.t, [571, 714, 856, 999]); // fresh noise sits at t = 999 at the tail
  // eta 1: the base clip's steps and every diagonal step draw noise besides the starting draws
  assert.ok(noise.draws.length > 2 + T, `only ${noise.draws.length} draws: eta 1 should draw per step`);
});
