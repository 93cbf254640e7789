// Library-level checks behind the CLI's messages: option limits, the fifo steps message, JSON files with a
// BOM or a number a double cannot hold, and which outputs need ffmpeg.

import assert from "node:assert/strict";
import { test } from "node:test";
import { OptionsError, asFlagMessage, outputNeedsFfmpeg, parseJsonText, resolveGenerateSettings, stripBom } from "../../src/app/index.js";

test("prompt and negative: at most 4096 characters, no NUL; fps >= 0.01; size sides up to 16384", () => {
  assert.equal(resolveGenerateSettings({ prompt: "p".repeat(4096) }).prompt.length, 4096);
  assert.throws(() => resolveGenerateSettings({ prompt: "p".repeat(4097) }), (e: unknown) => e instanceof OptionsError && /\(4097 characters\)/.test((e as Error).message));
  assert.throws(() => resolveGenerateSettings({ prompt: "a\u0000b" }), /without NUL characters/);
  assert.throws(() => resolveGenerateSettings({ prompt: "a", negative: "\u0000" }), /^OptionsError: --negative is "\\u0000"; allowed: /);
  assert.equal(resolveGenerateSettings({ prompt: "a", fps: 0.01 }).fps, 0.01);
  assert.throws(() => resolveGenerateSettings({ prompt: "a", fps: 0.005 }), /^OptionsError: --fps is 0\.005; allowed: a number in \[0\.01, 240\]$/);
  assert.equal(resolveGenerateSettings({ prompt: "a", size: "16384x8" }).size, "16384x8");
  for (const size of ["16385", "8x16385", "0", "99999999999999999999"]) assert.throws(() => resolveGenerateSettings({ prompt: "a", size }), /^OptionsError: --size is /);
});

test("frames and clips together: named as flags, or as the config file's fields", () => {
  assert.throws(() => resolveGenerateSettings({ prompt: "a", frames: 4, clips: 2 }), /^OptionsError: --frames and --clips were both given/);
  assert.throws(() => resolveGenerateSettings({ prompt: "a", frames: 4, clips: 2 }, "--config c.json"), /^OptionsError: --config c\.json: "frames" and "clips" were both given; allowed: one of them$/);
});

test("asFlagMessage: fifo's scheduler.steps is --steps", () => {
  assert.equal(asFlagMessage("scheduler.steps is 6; fifo allows: a multiple of clip.frames 4"), "--steps is 6; fifo allows: a multiple of clip.frames 4");
  assert.equal(asFlagMessage("noiseRecycle is 3"), "--noise-recycle is 3");
});

test("JSON files: a BOM is accepted, 1e400 is named as not a finite number", () => {
  assert.equal(stripBom("\uFEFF{}"), "{}");
  assert.deepEqual(parseJsonText('\uFEFF{"steps": 3}'), { steps: 3 });
  assert.throws(() => parseJsonText('[{"from": 0, "to": 1e400}]'), /^SyntaxError: \[0\]\.to is not a finite number/);
  assert.throws(() => parseJsonText('{"guidance": -1e999}'), /guidance is not a finite number/);
});

test("only mp4, webm and gif outputs need ffmpeg", () => {
  for (const out of ["v.mp4", "V.WEBM", "a.gif"]) assert.equal(outputNeedsFfmpeg(out), true, out);
  for (const out of ["sheet.png", "frames/"]) assert.equal(outputNeedsFfmpeg(out), false, out);
});
