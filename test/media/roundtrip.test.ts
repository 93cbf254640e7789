// Frames -> mp4 / webm / gif -> frames with the real ffmpeg: counts, sizes, PSNR, metadata, sidecar.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type GifDither, VideoReader, VideoWriter, probeVideo, readVideoFrames } from "../../src/media/index.js";
import { packageVersion } from "../../src/media/metadata.js";
import { collect, psnr, syntheticClip, withTempDir } from "./helpers.js";

const W = 64;
const H = 48;
const FRAMES = 24;
// 10 fps: GIF stores frame delays in 1/100 s, so a rate that divides 100 keeps its timing exact.
const FPS = 10;
const clip = syntheticClip(FRAMES, W, H);
const metadata = { prompt: "a red balloon drifting over a lake, golden hour", seed: 1234567890123n, strategy: "vidrd", model: "vidrd-tiny" };

async function writeClip(path: string, extra: { dither?: GifDither; crf?: number } = {}): Promise<void> {
  const writer = await VideoWriter.open(path, { fps: FPS, width: W, height: H, metadata, ...extra });
  for (const frame of clip) await writer.write(frame);
  const result = await writer.close();
  assert.equal(result.frames, FRAMES);
  assert.equal(result.complete, true);
}

// Measured at 64x48 (this clip): mp4 36.0 dB, webm 35.6 dB; the bound is the 35 dB for both.
for (const format of ["mp4", "webm"] as const) {
  test(`${format} round trip at the default crf: ${FRAMES} frames of ${W}x${H}, PSNR >= 35 dB, metadata in the container`, async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, `clip.${format}`);
      await writeClip(path);
      assert.deepEqual(readdirSync(dir).sort(), [`clip.${format}`, `clip.${format}.json`], "no temporary left behind");

      const frames = await collect(readVideoFrames(path));
      assert.equal(frames.length, FRAMES);
      for (const f of frames) assert.equal(f.data.length, W * H * 3);
      const db = psnr(clip, frames);
      assert.ok(db >= 35, `${format} PSNR ${db.toFixed(2)} dB, expected >= 35`);

      const probe = await probeVideo(path, { countFrames: true });
      assert.deepEqual([probe.width, probe.height, probe.fps, probe.frameCount, probe.frameCountExact], [W, H, FPS, FRAMES, true]);
      assert.equal(probe.codec, format === "mp4" ? "h264" : "vp9");
      assert.equal(probe.pixelFormat, "yuv420p");
      assert.ok(Math.abs(probe.durationSeconds! - FRAMES / FPS) < 0.11, `duration ${probe.durationSeconds}`);
      assert.equal(probe.tags.prompt, metadata.prompt);
      assert.equal(probe.tags.title, metadata.prompt);
      assert.equal(probe.tags.seed, "1234567890123");
      assert.equal(probe.tags.strategy, "vidrd");
      assert.equal(probe.tags.model, "vidrd-tiny");
      assert.equal(probe.tags.version, packageVersion());
    });
  });
}

test("a lower crf gives a higher PSNR (the option reaches the encoder)", async () => {
  await withTempDir(async (dir) => {
    const scores: number[] = [];
    for (const crf of [35, 10]) {
      const path = join(dir, `crf${crf}.mp4`);
      await writeClip(path, { crf });
      scores.push(psnr(clip, await collect(readVideoFrames(path))));
    }
    assert.ok(scores[1] > scores[0] + 2, `crf 10: ${scores[1].toFixed(2)} dB, crf 35: ${scores[0].toFixed(2)} dB`);
  });
});

// GIF: 256 colours for the whole clip, so the bound is looser. Measured on this clip: sierra2_4a
// 33.3 dB, floyd_steinberg 33.6, bayer 32.6, none 34.8 (dithering trades PSNR for less banding).
test("gif round trip: frame count, size, PSNR >= 32 dB for every dither; metadata in the sidecar only", async () => {
  await withTempDir(async (dir) => {
    const scores: Record<string, number> = {};
    for (const dither of ["sierra2_4a", "floyd_steinberg", "bayer", "none"] as const) {
      const path = join(dir, `clip-${dither}.gif`);
      await writeClip(path, { dither });
      const frames = await collect(readVideoFrames(path));
      assert.equal(frames.length, FRAMES);
      scores[dither] = psnr(clip, frames);
      const probe = await probeVideo(path);
      assert.deepEqual([probe.codec, probe.width, probe.height, probe.fps], ["gif", W, H, FPS]);
      assert.equal(probe.tags.prompt, undefined);
      const sidecar = JSON.parse(readFileSync(`${path}.json`, "utf8")) as Record<string, unknown>;
      assert.equal(sidecar.prompt, metadata.prompt);
      assert.deepEqual(sidecar.encoder, { codec: "gif", dither });
    }
    for (const [dither, db] of Object.entries(scores)) assert.ok(db >= 32, `gif ${dither}: ${db.toFixed(2)} dB, expected >= 32`);
    // Dithers differ: the option reaches paletteuse.
    assert.ok(new Set(Object.values(scores).map((s) => s.toFixed(3))).size >= 3, JSON.stringify(scores));
  });
});

test("the sidecar records the video and the metadata, seed exact", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "clip.mp4");
    await writeClip(path);
    const sidecar = JSON.parse(readFileSync(join(dir, "clip.mp4.json"), "utf8")) as Record<string, unknown>;
    assert.deepEqual(sidecar, {
      file: "clip.mp4",
      format: "mp4",
      width: W,
      height: H,
      fps: FPS,
      frames: FRAMES,
      complete: true,
      encoder: { codec: "libx264", crf: 18, pixelFormat: "yuv420p" },
      durationSeconds: FRAMES / FPS,
      prompt: metadata.prompt,
      seed: "1234567890123",
      strategy: "vidrd",
      model: "vidrd-tiny",
      version: packageVersion(),
    });
  });
});

test("the reader resamples the rate and stops at maxFrames", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "clip.mp4");
    await writeClip(path);
    const half = await collect(readVideoFrames(path, { fps: FPS / 2 }));
    assert.equal(half.length, FRAMES / 2);
    // fps=5 over a 10 fps source keeps every other frame: frame k is source frame 2k.
    assert.ok(psnr([clip[6]], [half[3]]) > 33, "frame 3 at 5 fps is source frame 6");
    const reader = await VideoReader.open(path, { maxFrames: 5, width: 32, height: 32 });
    assert.deepEqual([reader.width, reader.height, reader.fps, reader.source.width], [32, 32, FPS, W]);
    const five = await collect(reader);
    assert.deepEqual(five.map((f) => [f.width, f.height]), Array(5).fill([32, 32]));
  });
});
