// Continuation: DDIM inversion of a video's last clip, then vidrd from the recovered (reversed) path. The
// linear Gaussian test denoiser (helpers.ts) makes inversion then sampling return the input within the
// first-order error of 50 steps (about 5%, as test/schedulers/ddim-inversion.test.ts measures).

import { test } from "node:test";
import assert from "node:assert/strict";
import { denoiseClip } from "../../src/pipelines/text-to-clip.js";
import { createScheduler } from "../../src/schedulers/create.js";
import { framesReversed } from "../../src/tensor/frames.js";
import { SeededNoise } from "../../src/tensor/seeded-noise.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { constantPromptSource } from "../../src/pipelines/prompt-schedule.js";
import { continueVideo, invertToHistory, lastClipOf } from "../../src/pipelines/continuation.js";
import type { LongVideoRequest, Progress } from "../../src/pipelines/types.js";
import { type Call, TINY_CLIP, collect, frameAll, gaussianPredictor, promptOf } from "./helpers.js";

const N = TINY_CLIP.frames;
const prompt = promptOf(1);
/** A smooth video of 10 frames [1, 2, 10, 2, 3], values about 0.5 in size. */
const video = new Tensor("float32", Float32Array.from({ length: 2 * 10 * 6 }, (_, k) => 0.5 * Math.sin(0.37 * k + 0.3)), [1, 2, 10, 2, 3]);
const maxAbs = (a: ArrayLike<number>) => Math.max(...Array.from(a, Math.abs));
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));

function request(over: Partial<LongVideoRequest> = {}): LongVideoRequest {
  return { predictor: gaussianPredictor(), prompts: constantPromptSource(prompt), scheduler: {}, clip: TINY_CLIP, length: { frames: 8 }, noise: new SeededNoise(4), ...over };
}

test("inversion recovers a noise path: sampling DDIM from flip(hist[0]) returns the clip within tolerance", async () => {
  const last = lastClipOf(video, TINY_CLIP);
  assert.deepEqual(frameAll(last, 0), frameAll(video, 2), "the last N of 10 frames");
  const seen: Progress[] = [];
  const history = await invertToHistory({ latents: last, predictor: gaussianPredictor(), prompt, onProgress: (p) => seen.push(p) });
  assert.equal(history.length, 50);
  assert.equal(seen.length, 50);
  const zT = framesReversed(history[0]!);
  assert.ok(maxAbs(zT.data) > 1.9 * maxAbs(last.data), "the path reaches the noise level");
  // sampling from the recovered start, recording what enters each step: it retraces the inverted path
  const calls: Call[] = [];
  const back = await denoiseClip({ scheduler: createScheduler(), predictor: gaussianPredictor(0.25, calls), prompt, start: zT, noise: new SeededNoise(0) });
  const rel = maxDiff(back.data, last.data) / maxAbs(last.data);
  assert.ok(rel < 0.05, `round trip relative error ${rel}`);
  for (const i of [1, 25, 49]) {
    const path = framesReversed(history[i]!);
    const d = maxDiff(calls[i]!.z.data, path.data) / maxAbs(path.data);
    assert.ok(d < 0.05, `z_${i} vs the inverted latent at the same level: ${d}`);
  }
});

test("the continued clip starts from the reversed inverted noise (FNR) and its overlap mirrors the video's end", async () => {
  const calls: Call[] = [];
  const chunks = await collect(continueVideo(video, request({ predictor: gaussianPredictor(0.25, calls), length: { frames: 8 } })));
  // 50 inversion calls, then 2 clips of 50 (8 new frames at N - M = 4 per clip)
  assert.equal(calls.length, 150);
  assert.deepEqual(chunks.map((c) => [c.clip, c.emitStart, c.emitEnd, c.firstFrame]), [[0, 4, 8, 0], [1, 4, 8, 4]]);
  // FNR: the continued clip's z_T frames j < M are the inverted z_T's frames N - 1 - j, bit for bit
  const last = lastClipOf(video, TINY_CLIP);
  const history = await invertToHistory({ latents: last, predictor: gaussianPredictor(), prompt });
  const zT = framesReversed(history[0]!);
  const start = calls[50]!.z;
  for (let j = 0; j < 4; j++) assert.deepEqual(frameAll(start, j), frameAll(zT, N - 1 - j), `frame ${j}`);
  // frame-wise denoiser: overlap frame f of the new clip denoises like the video's frame F - 1 - f
  const first = chunks[0]!.latents;
  for (let f = 0; f < 4; f++) {
    const d = maxDiff(frameAll(first, f), frameAll(video, 9 - f)) / maxAbs(frameAll(video, 9 - f));
    assert.ok(d < 0.05, `new frame ${f} vs video frame ${9 - f}: ${d}`);
  }
});

test("continuation options and inputs are checked before the inversion runs", async () => {
  const calls: Call[] = [];
  const r = request({ predictor: gaussianPredictor(0.25, calls) });
  await assert.rejects(collect(continueVideo(video, r, { overlap: 8 })), /overlap is 8; allowed: an integer in \[0, 7\]/);
  await assert.rejects(collect(continueVideo(video, { ...r, length: { frames: 6 } })), /frames is 6; allowed with these settings: 4 \+ k \* 4/);
  await assert.rejects(collect(continueVideo(video, { ...r, scheduler: { name: "euler" } })), /scheduler\.name is "euler"; continuation allows only "ddim"/);
  const short = new Tensor("float32", new Float32Array(2 * 6 * 6), [1, 2, 6, 2, 3]);
  await assert.rejects(collect(continueVideo(short, r)), /video is float32\[1, 2, 6, 2, 3\]; allowed: \[1, 2, F, 2, 3\] with F >= 8/);
  assert.equal(calls.length, 0);
});

test("a separate inversion predictor and prompt can be given", async () => {
  const inversion: Call[] = [];
  const sampling: Call[] = [];
  const other = promptOf(3);
  await collect(
    continueVideo(video, request({ predictor: gaussianPredictor(0.25, sampling), scheduler: { steps: 5 }, length: { frames: 4 } }), {
      inversionPredictor: gaussianPredictor(0.25, inversion),
      inversionPrompt: other,
    }),
  );
  assert.equal(inversion.length, 5);
  assert.equal(sampling.length, 5);
  assert.ok(inversion.every((c) => c.prompt === other));
  assert.deepEqual(inversion.map((c) => c.t), [1, 201, 401, 601, 801]);
});
