// The reader's and readImage's geometry: scale to cover the target, then crop the centre to exactly
// W x H. Checked on stripes whose positions after the crop are known.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FfmpegError, type RgbFrame, VideoReader, VideoWriter, readImage, readVideoFrames, writePng } from "../../src/media/index.js";
import { collect, withTempDir } from "./helpers.js";

const COLOURS = { red: [230, 30, 30], green: [30, 200, 40], blue: [40, 50, 220], white: [250, 250, 250] } as const;
type Colour = keyof typeof COLOURS;
const ORDER: Colour[] = ["red", "green", "blue", "white"];

/** Four stripes, each a quarter of the long side: vertical stripes when wide, horizontal when tall. */
function stripes(width: number, height: number): RgbFrame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const along = width >= height ? x / width : y / height;
      data.set(COLOURS[ORDER[Math.floor(along * 4)]], (y * width + x) * 3);
    }
  }
  return { width, height, data };
}

function nearest(frame: RgbFrame, x: number, y: number): Colour {
  const o = (y * frame.width + x) * 3;
  const p = frame.data.subarray(o, o + 3);
  const distance = (c: Colour): number => COLOURS[c].reduce((s, v, i) => s + (v - p[i]) ** 2, 0);
  return ORDER.reduce((best, c) => (distance(c) < distance(best) ? c : best));
}

/**
 * 128x64 stripes read at 32x32: scaled by 1/2 to 64x32 (the height fits), the centre 32 columns kept,
 * source x 32..96: green then blue, 16 output columns each. Portrait likewise along y.
 */
function assertCentreCrop(frame: RgbFrame, portrait: boolean, what: string): void {
  assert.deepEqual([frame.width, frame.height], [32, 32], what);
  for (let i = 0; i < 32; i++) {
    if (i === 15 || i === 16) continue; // the green/blue boundary, blurred by resampling
    const expected = i < 16 ? "green" : "blue";
    for (const j of [0, 10, 31]) {
      const got = portrait ? nearest(frame, j, i) : nearest(frame, i, j);
      assert.equal(got, expected, `${what}: ${portrait ? "row" : "column"} ${i} at ${j}`);
    }
  }
}

for (const portrait of [false, true]) {
  const [w, h] = portrait ? [64, 128] : [128, 64];
  test(`${w}x${h} -> 32x32: covered and centre-cropped (PNG through ffmpeg, mp4, and readImage)`, async () => {
    await withTempDir(async (dir) => {
      const source = stripes(w, h);
      const png = join(dir, "stripes.png");
      await writePng(png, source);
      assertCentreCrop(await readImage(png, { width: 32, height: 32 }), portrait, "readImage");
      const fromPng = await collect(readVideoFrames(png, { width: 32, height: 32 }));
      assert.equal(fromPng.length, 1);
      assertCentreCrop(fromPng[0], portrait, "VideoReader on a PNG");

      const mp4 = join(dir, "stripes.mp4");
      const writer = await VideoWriter.open(mp4, { fps: 4, width: w, height: h, sidecar: false, crf: 10 });
      for (let i = 0; i < 3; i++) await writer.write(source);
      await writer.close();
      const fromMp4 = await collect(readVideoFrames(mp4, { width: 32, height: 32 }));
      assert.equal(fromMp4.length, 3);
      fromMp4.forEach((f, i) => assertCentreCrop(f, portrait, `VideoReader on mp4, frame ${i}`));
    });
  });
}

test("a target of the source's aspect scales without cropping; no size keeps the source's", async () => {
  await withTempDir(async (dir) => {
    const png = join(dir, "stripes.png");
    await writePng(png, stripes(128, 64));
    const [small] = await collect(readVideoFrames(png, { width: 64, height: 32 }));
    assert.deepEqual(ORDER.map((_, k) => nearest(small, k * 16 + 8, 16)), ORDER);
    const [same] = await collect(readVideoFrames(png));
    assert.deepEqual([same.width, same.height], [128, 64]);
    assert.deepEqual([...same.data], [...stripes(128, 64).data], "PNG -> rgb24 without scaling is exact");
    const image = await readImage(png);
    assert.deepEqual([...image.data], [...stripes(128, 64).data]);
  });
});

/** Process ids of this process's children (Linux /proc). */
function childPids(): number[] {
  const text = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, "utf8").trim();
  return text === "" ? [] : text.split(" ").map(Number);
}

test("leaving the loop early stops ffmpeg (no process left blocked on a full pipe)", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "long.mp4");
    const writer = await VideoWriter.open(path, { fps: 25, width: 128, height: 128, sidecar: false });
    const frame = stripes(128, 128);
    for (let i = 0; i < 100; i++) await writer.write(frame);
    await writer.close();
    const before = childPids();
    let seen = 0;
    for await (const f of await VideoReader.open(path)) {
      assert.equal(f.width, 128);
      if (++seen === 2) break;
    }
    assert.equal(seen, 2);
    assert.deepEqual(childPids().filter((p) => !before.includes(p)), []);
  });
});

test("reader options are checked: size both-or-neither, fps, maxFrames; a missing file is named", async () => {
  await withTempDir(async (dir) => {
    const png = join(dir, "s.png");
    await writePng(png, stripes(8, 8));
    await assert.rejects(VideoReader.open(png, { width: 32 }), /width is 32 and height is undefined; allowed: both .* or neither/);
    await assert.rejects(VideoReader.open(png, { fps: -1 }), /fps is -1; allowed: a number above 0/);
    await assert.rejects(VideoReader.open(png, { maxFrames: 1.5 }), /maxFrames is 1.5; allowed: a positive integer/);
    await assert.rejects(VideoReader.open(join(dir, "none.mp4")), /none\.mp4 does not exist/);
    await assert.rejects(readImage(join(dir, "none.png")), /readImage .*none\.png: /);
    writeFileSync(join(dir, "garbage.mp4"), "this is not a video");
    await assert.rejects(VideoReader.open(join(dir, "garbage.mp4")), (e: unknown) => e instanceof FfmpegError && /^probing .*garbage\.mp4: ffprobe exited with status 1; its stderr ends with: .*Invalid data/.test(e.message.split("\n")[0]));
  });
});
