// Finding ffmpeg: VIDRD_FFMPEG, ffprobe beside it, PATH; and the error that says how to install it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FfmpegMissingError, VideoWriter, locateFfmpeg, probeVideo, readVideoFrames } from "../../src/media/index.js";
import { collect, withTempDir } from "./helpers.js";

const INSTALL = /apt-get install ffmpeg.*brew install ffmpeg.*set VIDRD_FFMPEG/;

async function withEnv<T>(vars: Record<string, string | undefined>, body: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>): void => {
    for (const [k, value] of Object.entries(v)) {
      if (value === undefined) delete process.env[k];
      else process.env[k] = value;
    }
  };
  apply(vars);
  try {
    return await body();
  } finally {
    apply(saved);
  }
}

test("VIDRD_FFMPEG=/nonexistent: FfmpegMissingError naming the variable, with the install hint", async () => {
  await withEnv({ VIDRD_FFMPEG: "/nonexistent" }, async () => {
    const e = (() => {
      try {
        locateFfmpeg();
      } catch (error) {
        return error;
      }
      return null;
    })();
    assert.ok(e instanceof FfmpegMissingError);
    assert.equal(e.tool, "ffmpeg");
    assert.match(e.message, /^ffmpeg not found: VIDRD_FFMPEG=\/nonexistent is not an executable file; /);
    assert.match(e.message, INSTALL);
    await withTempDir(async (dir) => {
      await assert.rejects(VideoWriter.open(join(dir, "out.mp4"), { fps: 8, width: 16, height: 16 }), FfmpegMissingError);
      await assert.rejects(probeVideo(join(dir, "..", "nothing.mp4")), /does not exist/);
    });
  });
});

test("no ffmpeg on PATH and no VIDRD_FFMPEG: the error says where it looked and how to install", async () => {
  await withTempDir(async (dir) => {
    await withEnv({ VIDRD_FFMPEG: undefined, VIDRD_FFPROBE: undefined, PATH: dir }, async () => {
      assert.throws(() => locateFfmpeg(), (e: unknown) => e instanceof FfmpegMissingError && /VIDRD_FFMPEG is not set and no ffmpeg is on PATH; install it with `apt-get install ffmpeg`/.test(e.message));
      writeFileSync(join(dir, "x.mp4"), "not read: ffprobe is missing");
      await assert.rejects(collect(readVideoFrames(join(dir, "x.mp4"))), FfmpegMissingError);
    });
  });
});

test("ffprobe is taken beside VIDRD_FFMPEG, from VIDRD_FFPROBE, or from PATH", async () => {
  await withTempDir(async (dir) => {
    const system = locateFfmpeg();
    symlinkSync(system.ffmpeg, join(dir, "ffmpeg-custom"));
    symlinkSync(system.ffprobe, join(dir, "ffprobe-custom"));
    assert.deepEqual(locateFfmpeg({ PATH: "", VIDRD_FFMPEG: join(dir, "ffmpeg-custom") }), { ffmpeg: join(dir, "ffmpeg-custom"), ffprobe: join(dir, "ffprobe-custom") });
    assert.deepEqual(locateFfmpeg({ PATH: "", VIDRD_FFMPEG: system.ffmpeg, VIDRD_FFPROBE: join(dir, "ffprobe-custom") }).ffprobe, join(dir, "ffprobe-custom"));
    assert.throws(() => locateFfmpeg({ PATH: "", VIDRD_FFMPEG: system.ffmpeg, VIDRD_FFPROBE: join(dir, "nope") }), /ffprobe not found: VIDRD_FFPROBE=.*nope is not an executable file/);
    symlinkSync(system.ffmpeg, join(dir, "ffmpeg"));
    assert.throws(() => locateFfmpeg({ PATH: dir }), /ffprobe not found: VIDRD_FFPROBE is not set and no ffprobe is beside .* or on PATH/);
  });
});
