// Segmenting long videos with known boundaries (synthetic-world long videos written as mp4, with scene
// cuts): the cut detector finds the world's cuts from the decoded pixels, and no clip straddles an action
// boundary (by label ranges) or a scene cut (fixed windows, where only the detector knows the cuts).

import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { FrameDifferences, composeDataset, detectSceneCuts, readManifest, videoSource } from "../../../src/data/compose/index.js";
import { longVideo, resolveWorldConfig, type LongVideoLabel } from "../../../src/data/world/index.js";
import { readVideoFrames } from "../../../src/media/index.js";
import { withTempDir, writeWorldVideo } from "./helpers.js";

const config = resolveWorldConfig({ segments: [3, 4], segmentFrames: [10, 17], cutProbability: 0.5 });
const spec = { width: 64, height: 64, frames: 8, fps: 8 };

interface Written {
  name: string;
  label: LongVideoLabel;
  fps: number;
}

async function writeVideos(dir: string, count: number): Promise<Written[]> {
  const out: Written[] = [];
  for (let i = 0; i < count; i++) {
    const video = longVideo(config, 21, i);
    const fps = i === count - 1 ? 16 : 8; // the last one is resampled to the dataset's 8 fps
    const name = `long-${i}.mp4`;
    await writeWorldVideo(join(dir, name), video, config, fps);
    out.push({ name, label: video.label, fps });
  }
  return out;
}

const cutsOf = (label: LongVideoLabel): number[] => label.segments.filter((s) => s.transition === "cut").map((s) => s.start);

/** The segment holding every source frame the clip [start, end) at the dataset's fps shows, or undefined. */
function segmentOf(label: LongVideoLabel, start: number, end: number, ratio: number) {
  const first = start * ratio;
  const last = (end - 1) * ratio;
  return label.segments.find((s) => first >= s.start && last < s.end);
}

test("segmenting world long videos: the cut detector, label ranges and fixed windows", async () => {
  await withTempDir(async (dir) => {
    const videos = await writeVideos(dir, 4);
    const totalCuts = videos.reduce((n, v) => n + cutsOf(v.label).length, 0);
    assert.ok(totalCuts >= 3, `only ${totalCuts} cuts in the test videos`);

    // the detector on decoded mp4 frames finds exactly the world's cuts
    for (const v of videos.filter((x) => x.fps === 8)) {
      const d = new FrameDifferences();
      for await (const f of readVideoFrames(join(dir, v.name))) d.push(f.data);
      assert.deepEqual(detectSceneCuts(d.values), cutsOf(v.label), `${v.name}`);
    }

    // by label ranges: every clip inside one segment (at 16 fps the clip's frames k show source frames 2k)
    const list = join(dir, "ranges.jsonl");
    writeFileSync(list, videos.map((v) => JSON.stringify({ path: v.name, ranges: v.label.segments.map((s) => ({ start: s.start, end: s.end, label: s.name, caption: s.caption })) })).join("\n"));
    const byRanges = join(dir, "by-ranges");
    const report = await composeDataset([videoSource(spec, { list })], { out: byRanges, ...spec });
    assert.equal(report.rejected.length, 0, JSON.stringify(report.rejected));
    const entries = readManifest(byRanges);
    assert.ok(entries.length >= 10, `${entries.length} clips`);
    const segmentsWithClips = new Set<string>();
    for (const e of entries) {
      const v = videos.find((x) => x.name === e.origin.input)!;
      const [start, end] = e.origin.range!;
      assert.equal(end - start, spec.frames);
      const segment = segmentOf(v.label, start, end, v.fps / spec.fps);
      assert.ok(segment !== undefined, `${e.origin.input} clip ${start}-${end} straddles a segment boundary`);
      assert.equal(e.label, segment.name);
      assert.equal(e.caption, segment.caption);
      segmentsWithClips.add(`${v.name}@${segment.start}`);
    }
    // every segment long enough at the dataset's rate got a clip
    for (const v of videos) {
      for (const s of v.label.segments) {
        const ratio = v.fps / spec.fps;
        const usable = Math.ceil(s.end / ratio) - 1 - (s.start === 0 ? 0 : Math.ceil(s.start / ratio) + 1);
        if (ratio === 1 ? s.end - s.start >= spec.frames : usable >= spec.frames) assert.ok(segmentsWithClips.has(`${v.name}@${s.start}`), `${v.name} segment ${s.start}-${s.end} has no clip`);
      }
    }

    // fixed overlapping windows with no annotations: clips may span actions, never a scene cut (no frame
    // buffer: the writing pass decodes the video again)
    const plain = join(dir, "plain.jsonl");
    const cutVideo = videos.filter((v) => v.fps === 8).sort((a, b) => cutsOf(b.label).length - cutsOf(a.label).length)[0];
    assert.ok(cutsOf(cutVideo.label).length > 0);
    writeFileSync(plain, JSON.stringify({ path: cutVideo.name, label: "shapes" }));
    const windowed = join(dir, "windowed");
    await composeDataset([videoSource(spec, { list: plain, stride: 4, bufferBytes: 0 })], { out: windowed, ...spec });
    const clips = readManifest(windowed);
    let spansActions = 0;
    for (const e of clips) {
      const v = videos.find((x) => x.name === e.origin.input)!;
      const [start, end] = e.origin.range!;
      for (const c of cutsOf(v.label)) assert.ok(!(c > start && c < end), `${v.name} clip ${start}-${end} straddles the cut at ${c}`);
      if (segmentOf(v.label, start, end, 1) === undefined) spansActions++;
      assert.equal(e.caption, "a person shapes");
    }
    assert.ok(spansActions > 0, "fixed windows never crossed an action boundary: the test would not see a cut detector failure");
    const windowStarts = clips.map((e) => e.origin.range![0]).sort((a, b) => a - b);
    assert.ok(windowStarts.slice(1).some((s, k) => s - windowStarts[k] === 4), `stride 4 windows: ${windowStarts.join(" ")}`);
  });
});
