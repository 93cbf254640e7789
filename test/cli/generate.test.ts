// `vidrd generate` end to end through the real binary: a video with --json, a config file under the
// flags, and Ctrl-C leaving a valid, shorter video.

import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { probeVideo } from "../../src/media/index.js";
import { hiddenFiles, lines, startVidrd, tinyFlags, vidrd, workspace, type Workspace, untilPastFirstClip } from "./cli-harness.js";

let ws: Workspace;
before(() => {
  ws = workspace("generate");
});
after(() => ws.remove());

test("generate --json writes the mp4 and prints the result as one JSON object", async () => {
  const out = join(ws.dir, "three-clips.mp4");
  const r = vidrd(["generate", "a red star moves left", ...tinyFlags(ws), "--clips", "3", "--seed", "5", "--out", out, "--json"], ws.env);
  assert.equal(r.status, 0, r.stderr);
  const stdout = lines(r.stdout);
  assert.equal(stdout.length, 1, r.stdout);
  const result = JSON.parse(stdout[0]!);
  // vidrd with N = 4, M = 2: 4 + 2 + 2 frames
  assert.equal(result.frames, 8);
  assert.equal(result.complete, true);
  assert.equal(result.seed, 5);
  assert.equal(result.out, out);
  assert.equal(result.evaluations, 3 * 2);
  const probe = await probeVideo(out, { countFrames: true });
  assert.equal(probe.frameCount, 8);
  assert.equal(probe.width, 16);
  assert.equal(probe.height, 16);
  assert.equal(probe.tags.prompt, "a red star moves left");
  // plain progress lines (stderr is not a terminal here): a line as each clip starts and ends
  assert.match(r.stderr, /^clip 3\/3, step 1\/2/m);
  assert.doesNotMatch(r.stderr, /\r/);
});

test("without --json the result is one line naming the file", () => {
  const out = join(ws.dir, "plain.gif");
  const r = vidrd(["generate", "a cat", ...tinyFlags(ws), "--frames", "4", "--out", out], ws.env);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(lines(r.stdout), [`${out}: 4 frames, 16x16 at 4 fps (vidrd, 2 steps, seed 0)`]);
  assert.ok(existsSync(out));
});

test("--config supplies options, flags win over it, and its relative paths are relative to the file", () => {
  const config = join(ws.dir, "settings.json");
  writeFileSync(config, JSON.stringify({ prompt: "from the file", clips: 5, seed: 9, steps: 3, out: "from-config.mp4", noiseRecycle: 2 }));
  const r = vidrd(["generate", "--config", config, ...tinyFlags(ws), "--clips", "2", "--json"], ws.env);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.out, join(ws.dir, "from-config.mp4"));
  assert.equal(result.seed, 9); // from the file
  assert.equal(result.steps, 2); // --steps 2 (tinyFlags) over "steps": 3
  assert.equal(result.frames, 6); // --clips 2 over "clips": 5: 4 + 2
  const sidecar = JSON.parse(readFileSync(`${result.out}.json`, "utf8"));
  assert.equal(sidecar.prompt, "from the file");
  assert.equal(sidecar.extra.noiseRecycle, 2);

  // --frames replaces the file's "clips" (both say the length) rather than clashing with it
  const frames = vidrd(["generate", "the prompt flag", "--config", config, ...tinyFlags(ws), "--frames", "4", "--json"], ws.env);
  assert.equal(frames.status, 0, frames.stderr);
  assert.equal(JSON.parse(frames.stdout).frames, 4);
});

test("Ctrl-C after the first clip: exit 130, a line with the frames written, a valid shorter video", async () => {
  const out = join(ws.dir, "interrupted.mp4");
  const clips = 60;
  const run = startVidrd(["generate", "a long walk", ...tinyFlags(ws), "--steps", "4", "--clips", String(clips), "--out", out], ws.env);
  // "clip 2/60" is clip index 1: clip 0 is denoised, decoded and written by the time it starts
  await untilPastFirstClip(run, clips);
  run.child.kill("SIGINT");
  const r = await run.done;
  assert.equal(r.status, 130, r.stderr);
  const written = /interrupted; wrote (\d+) frames to (.*) \(a valid, shorter video\)/.exec(r.stderr);
  assert.ok(written, r.stderr);
  assert.equal(written[2], out);
  const full = 4 + (clips - 1) * 2;
  const probe = await probeVideo(out, { countFrames: true });
  assert.equal(probe.frameCount, Number(written[1]));
  assert.ok(probe.frameCount! > 0 && probe.frameCount! < full, `${probe.frameCount} frames`);
  assert.equal(JSON.parse(readFileSync(`${out}.json`, "utf8")).complete, false);
  assert.deepEqual(hiddenFiles(ws.dir), []);
});
