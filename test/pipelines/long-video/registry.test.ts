import { test } from "node:test";
import assert from "node:assert/strict";
import { SeededNoise } from "../../../src/tensor/seeded-noise.js";
import { constantPromptSource } from "../../../src/pipelines/prompt-schedule.js";
import {
  LONG_VIDEO_STRATEGY_NAMES,
  generateLongVideo,
  isLongVideoStrategyName,
  longVideoStrategy,
} from "../../../src/pipelines/long-video/registry.js";
import type { LongVideoRequest } from "../../../src/pipelines/types.js";
import { type Call, TINY_CLIP, collect, mixingPredictor, promptOf } from "../helpers.js";

function request(calls: Call[] = []): LongVideoRequest {
  return {
    predictor: mixingPredictor(calls),
    prompts: constantPromptSource(promptOf(1)),
    scheduler: { steps: 8 }, // fifo needs a multiple of N steps
    clip: TINY_CLIP,
    length: { clips: 2 },
    noise: new SeededNoise(2),
  };
}

test("every strategy is registered under its name; an unknown name lists them", () => {
  assert.deepEqual([...LONG_VIDEO_STRATEGY_NAMES].sort(), ["fifo", "freenoise", "gen-l-video", "independent", "vidrd"]);
  assert.equal(LONG_VIDEO_STRATEGY_NAMES[0], "vidrd");
  for (const name of LONG_VIDEO_STRATEGY_NAMES) assert.equal(longVideoStrategy(name).name, name);
  assert.throws(() => longVideoStrategy("streamingt2v"), /strategy is "streamingt2v"; allowed: vidrd, independent, gen-l-video, freenoise, fifo/);
  assert.equal(isLongVideoStrategyName("toString"), false);
  assert.throws(() => generateLongVideo(request(), "nope"), /strategy is "nope"; allowed: vidrd/);
});

test("generateLongVideo validates at the call, before any denoiser evaluation", () => {
  const calls: Call[] = [];
  assert.throws(() => generateLongVideo(request(calls), "vidrd", { overlap: 8 }), /overlap is 8; allowed: an integer in \[0, 7\]/);
  assert.throws(() => generateLongVideo({ ...request(calls), length: { frames: 13 } }, "vidrd"), /frames is 13; allowed with these settings: 8 \+ k \* 4/);
  assert.equal(calls.length, 0);
});

test("each registered strategy yields chunks whose emitted frames tile the output from frame 0", async () => {
  for (const name of LONG_VIDEO_STRATEGY_NAMES) {
    const chunks = await collect(generateLongVideo(request(), name));
    let next = 0;
    for (const c of chunks) {
      assert.equal(c.firstFrame, next, `${name}: chunk ${c.clip} starts at ${c.firstFrame}, expected ${next}`);
      assert.ok(c.emitStart >= 0 && c.emitStart < c.emitEnd && c.emitEnd <= c.latents.shape[2]!, `${name}: emit range of chunk ${c.clip}`);
      next += c.emitEnd - c.emitStart;
    }
    assert.ok(next >= TINY_CLIP.frames, `${name}: ${next} frames`);
  }
  const vidrd = await collect(generateLongVideo(request(), "vidrd", { mode: "faithful" }));
  assert.equal(vidrd.reduce((n, c) => n + c.emitEnd - c.emitStart, 0), 16);
});
