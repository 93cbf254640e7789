// The inputs a dataset is composed from: a class tree (UCF-101 layout), the synthetic world's three
// products, and the dataset folder's own rules (one spec per folder, one run at a time).

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatasetFolder, composeDataset, imageSource, readManifest, videoSource, worldSource } from "../../../src/data/compose/index.js";
import { createFrame, encodePng } from "../../../src/media/index.js";
import { actionClip, longVideo, resolveWorldConfig, stillImage } from "../../../src/data/world/index.js";
import { withTempDir, writeWorldVideo } from "./helpers.js";

test("a class tree: labels from folder names, captions through the template, stray files reported", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "ucf");
    const config = resolveWorldConfig({ width: 32, height: 32, segments: [2, 2], segmentFrames: [10, 10], cutProbability: 0 });
    for (const [cls, seed] of [["ApplyEyeMakeup", 1], ["YoYo", 2]] as const) {
      mkdirSync(join(root, cls), { recursive: true });
      await writeWorldVideo(join(root, cls, `v_${cls}_g01.mp4`), longVideo(config, seed, 0), config);
    }
    writeFileSync(join(root, "YoYo", "notes.txt"), "not a video");
    writeFileSync(join(root, "stray.mp4"), "");
    const spec = { width: 32, height: 32, frames: 8, fps: 8 };
    const out = join(dir, "out");
    const report = await composeDataset([videoSource(spec, { root, stride: 6, captionTemplate: "a video of someone doing {label}" })], { out, ...spec });
    const entries = readManifest(out);
    assert.deepEqual([...new Set(entries.map((e) => e.label))].sort(), ["apply eye makeup", "yo yo"]);
    for (const e of entries) {
      assert.equal(e.caption, `a video of someone doing ${e.label}`);
      assert.equal(e.source, "video");
      assert.deepEqual([e.frames, e.width, e.height, e.fps], [8, 32, 32, 8]);
      assert.match(e.path, /^clips\/shard-0000\/[0-9a-f]{16}\.mp4$/);
    }
    // 20 frames, windows of 8 every 6: 3 windows, no slack to centre
    assert.deepEqual(entries.filter((e) => e.origin.input === "YoYo/v_YoYo_g01.mp4").map((e) => e.origin.range!).sort((a, b) => a[0] - b[0]), [[0, 8], [6, 14], [12, 20]]);
    assert.deepEqual(report.rejected.map((r) => [r.input, r.reason.split(":")[0]]), [["YoYo/notes.txt", "not a video file"], ["stray.mp4", "not in a class folder"]]);
    // the plan of each video is kept, so a re-run knows its windows without decoding
    const again = await composeDataset([videoSource(spec, { root, stride: 6, captionTemplate: "a video of someone doing {label}" })], { out, ...spec });
    assert.deepEqual([again.made.length, again.skipped.length], [0, entries.length]);
  });
});

test("the world: clips as they are, long videos cut at their segments, stills as pseudo-videos; exact captions", async () => {
  await withTempDir(async (dir) => {
    const spec = { width: 32, height: 32, frames: 8, fps: 8 };
    const out = join(dir, "world");
    const report = await composeDataset([worldSource(spec, { seed: 9, stills: 2, clips: 2, videos: 1, motionCaption: true })], { out, ...spec, shardSize: 2 });
    assert.deepEqual(report.rejected, []);
    const entries = readManifest(out);
    const world = resolveWorldConfig({ width: 32, height: 32, clipFrames: 8, segmentFrames: [8, 16] });
    const bySource = (s: string) => entries.filter((e) => e.source === s);
    assert.equal(bySource("world-clip").length, 2);
    assert.equal(bySource("world-still").length, 2);
    for (const e of bySource("world-still")) {
      assert.match(e.caption, / on an? .* background, camera (zooms|pans) /);
      assert.ok((e.origin.camera as { startBox: object }).startBox !== undefined);
    }
    // ids differ across products and seeds, shards hold 2 clips each
    assert.equal(new Set(entries.map((e) => e.id)).size, entries.length);
    assert.ok(entries.every((e) => /^clips\/shard-\d{4}\//.test(e.path)));
    assert.equal(new Set(entries.map((e) => e.path.split("/")[1])).size, Math.ceil(entries.length / 2));
    const videoClips = bySource("world-video");
    assert.ok(videoClips.length >= 2);
    for (const e of videoClips) {
      const [start, end] = e.origin.range!;
      const [a0, a1] = e.origin.annotation as [number, number];
      assert.ok(start >= a0 && end <= a1, `clip ${start}-${end} outside its segment ${a0}-${a1}`);
    }
    // the same products through the world API say the same
    const clipLabels = bySource("world-clip").map((e) => e.caption).sort();
    assert.equal(clipLabels.length, 2);
    assert.ok(clipLabels.every((c) => /^an? \w+ \w+( on an? .* background)? (moves|grows|shrinks|rotates|bounces)/.test(c)), clipLabels.join(" | "));
    assert.ok(typeof actionClip(world, 1, 0).label.caption === "string" && typeof stillImage(world, 1, 0).label.caption === "string");
  });
});

test("a dataset folder holds one spec and one run at a time", async () => {
  await withTempDir(async (dir) => {
    const spec = { width: 32, height: 32, frames: 8, fps: 8 };
    DatasetFolder.open(dir, spec).release();
    assert.throws(() => DatasetFolder.open(dir, { ...spec, frames: 16 }), /frames is 16 but the dataset in .* has frames 8 \(dataset\.json\); allowed: the same, or another output folder/);
    writeFileSync(join(dir, ".lock"), `${process.ppid}\n`); // a live process that is not us
    assert.throws(() => DatasetFolder.open(dir, spec), /is being written by another run \(pid \d+/);
    writeFileSync(join(dir, ".lock"), "999999999\n"); // a run that was killed
    const folder = DatasetFolder.open(dir, spec);
    assert.equal(readFileSync(join(dir, ".lock"), "utf8").trim(), String(process.pid));
    folder.release();
    assert.throws(() => DatasetFolder.open(dir, { ...spec, width: 33 }), /even width and height/);
  });
});

test("an abort (Ctrl-C) stops the run between clips, the report says so, and the same run resumes", async () => {
  await withTempDir(async (dir) => {
    const spec = { width: 32, height: 32, frames: 8, fps: 8 };
    const controller = new AbortController();
    let recorded = 0;
    const stopped = await composeDataset([worldSource(spec, { seed: 4, clips: 4 })], {
      out: dir,
      ...spec,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "clip-recorded" && ++recorded === 2) controller.abort();
      },
    });
    assert.equal(stopped.stopped, "interrupted");
    assert.equal(stopped.made.length, 2);
    const resumed = await composeDataset([worldSource(spec, { seed: 4, clips: 4 })], { out: dir, ...spec });
    assert.deepEqual([resumed.made.length, resumed.skipped.length, resumed.stopped], [2, 2, undefined]);
  });
});

test("an input listed twice gives its clips once, even with units composed concurrently", async () => {
  await withTempDir(async (dir) => {
    const spec = { width: 32, height: 32, frames: 8, fps: 8 };
    const pixels = new Uint8Array(64 * 48 * 3).map((_, i) => (i * 37) & 255);
    writeFileSync(join(dir, "p.png"), await encodePng(createFrame(64, 48, pixels)));
    writeFileSync(join(dir, "c.csv"), "p.png,a noisy picture\np.png,a noisy picture\np.png,another caption\n");
    const report = await composeDataset([imageSource(spec, { captions: join(dir, "c.csv") })], { out: join(dir, "out"), ...spec, jobs: 2 });
    assert.equal(report.made.length, 2);
    assert.deepEqual(report.rejected.map((r) => r.reason.split(":")[0]), ["duplicate"]);
    assert.deepEqual(readManifest(join(dir, "out")).map((e) => e.caption).sort(), ["a noisy picture", "another caption"]);
  });
});
