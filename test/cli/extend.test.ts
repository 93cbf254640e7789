// `vidrd extend` through the real binary: a video generated first, continued; and its bad arguments.

import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { probeVideo } from "../../src/media/index.js";
import { hiddenFiles, lines, tinyFlags, vidrd, workspace, type Workspace } from "./cli-harness.js";

let ws: Workspace;
let input: string;
before(() => {
  ws = workspace("extend");
  input = join(ws.dir, "input.mp4");
  const r = vidrd(["generate", "a red star", ...tinyFlags(ws), "--clips", "3", "--out", input], ws.env);
  assert.equal(r.status, 0, r.stderr);
});
after(() => ws.remove());

test("extend: the output holds the input's frames and then the new ones", async () => {
  const out = join(ws.dir, "longer.mp4");
  const r = vidrd(["extend", input, "the star keeps moving", ...tinyFlags(ws), "--clips", "2", "--out", out, "--json"], ws.env);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.input, input);
  assert.equal(result.inputFrames, 8);
  assert.equal(result.newFrames, 4); // 2 clips of N - M = 2 new frames
  assert.equal(result.frames, 12);
  assert.equal((await probeVideo(out, { countFrames: true })).frameCount, (await probeVideo(input, { countFrames: true })).frameCount! + 4);
  assert.match(r.stderr, /^inverting the input's last clip, step 1\/2/m);
  assert.equal(JSON.parse(readFileSync(`${out}.json`, "utf8")).extra.continued_from, "input.mp4");
});

test("extend: bad arguments are one line each and leave the input and the output folder alone", () => {
  const before = statSync(input).mtimeMs;
  const out = join(ws.dir, "never.mp4");
  const bad: [string[], RegExp][] = [
    [[input, "x", "--out", input], /^vidrd extend: --out .*input\.mp4 is the input video; allowed: another path/],
    [[input, "x", "--strategy", "fifo", "--out", out], /^vidrd extend: --strategy is "fifo"; allowed: vidrd/],
    [[input, "x", "--stride", "2", "--out", out], /^vidrd extend: Unknown option '--stride'/],
    [[join(ws.dir, "none.mp4"), "x", "--out", out], /^vidrd extend: <video> .*none\.mp4 does not exist; allowed: a video file ffmpeg can read$/],
    [[input, "x", "--frames", "3", "--out", out], /^vidrd extend: --frames is 3; allowed/],
    [[], /^vidrd extend: needs <video> and "<prompt>"; see vidrd extend --help$/],
  ];
  for (const [args, message] of bad) {
    const r = vidrd(["extend", ...args.slice(0, 2), ...tinyFlags(ws), ...args.slice(2)], ws.env);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr.trim(), message);
  }
  assert.equal(statSync(input).mtimeMs, before);
  assert.equal(existsSync(out), false);
  assert.deepEqual(hiddenFiles(ws.dir), []);
});
