// How a VideoWriter ends: complete, stopped early (a valid shorter video), aborted or failed (nothing
// left), and the errors for bad options and unwritable paths.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FfmpegError, VideoWriter, probeVideo, readVideoFrames } from "../../src/media/index.js";
import { collect, syntheticClip, syntheticFrame, withTempDir } from "./helpers.js";

const W = 64;
const H = 48;
const clip = syntheticClip(12, W, H);
const base = { fps: 10, width: W, height: H };

test("finish() after some frames gives a valid, shorter video and says so in the sidecar", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "short.mp4");
    const writer = await VideoWriter.open(path, { ...base, metadata: { prompt: "p" } });
    for (const frame of clip.slice(0, 5)) await writer.write(frame);
    const result = await writer.finish("interrupted");
    assert.deepEqual(result, { path, sidecar: `${path}.json`, format: "mp4", frames: 5, complete: false });
    assert.equal((await collect(readVideoFrames(path))).length, 5);
    const sidecar = JSON.parse(readFileSync(`${path}.json`, "utf8")) as Record<string, unknown>;
    assert.deepEqual([sidecar.frames, sidecar.complete, sidecar.stopReason], [5, false, "interrupted"]);
    await assert.rejects(writer.write(clip[5]), /the writer is closed/);
  });
});

test("finish() called while a write is in flight waits for it (the frame is in the video)", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "race.webm");
    const writer = await VideoWriter.open(path, base);
    await writer.write(clip[0]);
    const inFlight = writer.write(clip[1]);
    const finished = writer.finish();
    await inFlight;
    assert.equal((await finished).frames, 2);
    assert.equal((await collect(readVideoFrames(path))).length, 2);
  });
});

test("SIGINT to the whole process group (a terminal's Ctrl-C) still ends in a valid shorter video", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "interrupted.mp4");
    const script = fileURLToPath(new URL("./fixtures/interruptible-writer.ts", import.meta.url));
    // Own process group, so the signal below reaches the writer's process and everything in its group,
    // as the terminal's would; ffmpeg must not be in that group, or it would stop by itself and fail.
    const child = spawn(process.execPath, ["--import", "tsx", script, path], { stdio: ["ignore", "pipe", "inherit"], detached: true });
    let out = "";
    let signalled = false;
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      if (!signalled && /frames 8\n/.test(out)) {
        signalled = true;
        process.kill(-child.pid!, "SIGINT");
      }
    });
    const code = await new Promise<number | null>((done) => child.on("close", done));
    assert.equal(code, 0, out);
    const result = JSON.parse(out.trim().split("\n").pop()!) as { frames: number; complete: boolean };
    assert.equal(result.complete, false);
    assert.ok(result.frames >= 8, `${result.frames} frames`);
    const probe = await probeVideo(path);
    assert.equal(probe.frameCount, result.frames);
    assert.equal(probe.tags.prompt, "interrupted");
    assert.equal((await collect(readVideoFrames(path))).length, result.frames);
    assert.deepEqual(readdirSync(dir).sort(), ["interrupted.mp4", "interrupted.mp4.json"]);
  });
});

test("abort() leaves no file, and an existing target untouched", async () => {
  await withTempDir(async (dir) => {
    for (const name of ["a.mp4", "a.gif", "sheet.png", "frames"]) {
      const writer = await VideoWriter.open(join(dir, name), base);
      for (const frame of clip.slice(0, 3)) await writer.write(frame);
      await writer.abort();
      await writer.abort(); // repeatable
      await assert.rejects(writer.close(), /the writer is aborted/);
    }
    assert.deepEqual(readdirSync(dir), []);
    writeFileSync(join(dir, "keep.mp4"), "old video");
    const writer = await VideoWriter.open(join(dir, "keep.mp4"), base);
    await writer.write(clip[0]);
    await writer.abort();
    assert.equal(readFileSync(join(dir, "keep.mp4"), "utf8"), "old video");
    assert.deepEqual(readdirSync(dir), ["keep.mp4"]);
  });
});

test("abort() during a write in flight stops the encoder; the write rejects as aborted", async () => {
  await withTempDir(async (dir) => {
    const writer = await VideoWriter.open(join(dir, "big.mp4"), { ...base, width: 1024, height: 1024 });
    const frame = syntheticFrame(0, 1024, 1024, 1);
    const writes = Array.from({ length: 4 }, () => writer.write(frame).then(() => "written", (e: Error) => e.message));
    await writer.abort();
    const outcomes = await Promise.all(writes);
    assert.ok(outcomes.some((o) => /the writer was aborted while frame \d+ was being written|the writer is aborted/.test(o)), outcomes.join("; "));
    assert.deepEqual(readdirSync(dir), []);
  });
});

test("an unwritable output path fails at open with the reason, and leaves nothing", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(VideoWriter.open(join(dir, "missing", "out.mp4"), base), /cannot write output .*missing[/\\]out\.mp4: the folder .* does not exist \(ENOENT\)/);
    writeFileSync(join(dir, "file"), "");
    await assert.rejects(VideoWriter.open(join(dir, "file", "out.gif"), base), /cannot write output .*: .*is not a folder \(ENOTDIR\)/);
    mkdirSync(join(dir, "locked"));
    chmodSync(join(dir, "locked"), 0o500);
    try {
      // root ignores permissions; then the open succeeds and there is nothing to check.
      if (process.getuid?.() !== 0) await assert.rejects(VideoWriter.open(join(dir, "locked", "out.mp4"), base), /no permission to write in .*locked \(EACCES\)/);
    } finally {
      chmodSync(join(dir, "locked"), 0o700);
    }
    assert.deepEqual(readdirSync(dir).sort(), ["file", "locked"]);
    assert.deepEqual(readdirSync(join(dir, "locked")), []);
  });
});

test("an encoder that dies mid-stream rejects the write with ffmpeg's status, never hangs, leaves nothing", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "dies.mp4");
    const writer = await VideoWriter.open(path, { ...base, width: 512, height: 512 });
    const frame = syntheticFrame(0, 512, 512, 1);
    await writer.write(frame);
    process.kill(writer.encoderPid!, "SIGKILL");
    // Frames of 768 KB overflow the pipe's buffer at once, so a write meets the dead reader (EPIPE).
    const error = await (async () => {
      for (let i = 0; i < 50; i++) await writer.write(frame);
      return null;
    })().catch((e: unknown) => e);
    assert.ok(error instanceof FfmpegError, String(error));
    assert.match(error.message, /encoding mp4: ffmpeg was killed by SIGKILL/);
    assert.deepEqual(readdirSync(dir), []);
    await assert.rejects(writer.close(), /the writer is failed/);
  });
});

test("an ffmpeg that rejects its arguments is reported with the tail of its stderr", async () => {
  await withTempDir(async (dir) => {
    // A fake ffmpeg that fails the way a build without libx264 does.
    const fake = join(dir, "ffmpeg");
    writeFileSync(fake, "#!/bin/sh\necho \"Unknown encoder 'libx264'\" >&2\nexit 1\n", { mode: 0o755 });
    const saved = process.env.VIDRD_FFMPEG;
    process.env.VIDRD_FFMPEG = fake;
    try {
      const writer = await VideoWriter.open(join(dir, "out.mp4"), base);
      const error = await (async () => {
        for (let i = 0; i < 50; i++) await writer.write(clip[0]);
        return writer.close();
      })().catch((e: unknown) => e);
      assert.ok(error instanceof FfmpegError, String(error));
      assert.equal(error.exitCode, 1);
      // The cause is on the first line, so that a one-line print of the error still says it.
      assert.equal(error.message.split("\n")[0], "encoding mp4: ffmpeg exited with status 1; its stderr ends with: Unknown encoder 'libx264'");
    } finally {
      if (saved === undefined) delete process.env.VIDRD_FFMPEG;
      else process.env.VIDRD_FFMPEG = saved;
    }
    assert.deepEqual(readdirSync(dir), ["ffmpeg"]);
  });
});

test("closing with no frames is an error and leaves nothing", async () => {
  await withTempDir(async (dir) => {
    const writer = await VideoWriter.open(join(dir, "empty.mp4"), base);
    await assert.rejects(writer.close(), /no frame was written, and a video needs at least 1; nothing was left on disk/);
    assert.deepEqual(readdirSync(dir), []);
  });
});

test("bad options and frames are refused with what is allowed", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "x.mp4");
    await assert.rejects(VideoWriter.open(out, { ...base, width: 65 }), /mp4 \(H\.264, yuv420p\) needs an even width and height, got 65x48; allowed: even sizes \(e\.g\. 66x48\), or webm\/gif\/png/);
    await assert.rejects(VideoWriter.open(out, { ...base, fps: 0 }), /fps is 0; allowed: a number from 0\.01 \(one frame per 100 s\) to 1000/);
    await assert.rejects(VideoWriter.open(out, { ...base, crf: 52 }), /crf is 52; allowed for mp4: an integer from 0 to 51/);
    await assert.rejects(VideoWriter.open(join(dir, "x.gif"), { ...base, crf: 20 }), /crf applies to mp4 and webm only, not gif/);
    await assert.rejects(VideoWriter.open(join(dir, "x.gif"), { ...base, dither: "ordered" as never }), /dither is ordered; allowed: none, bayer, floyd_steinberg, sierra2_4a/);
    await assert.rejects(VideoWriter.open(join(dir, "x.avi"), base), /unknown extension "\.avi"; allowed: \.mp4, \.m4v, \.webm, \.gif, \.png, or a folder/);
    await assert.rejects(VideoWriter.open(out, { ...base, metadata: { extra: { "bad key": 1 } } }), /metadata\.extra key "bad key" is not allowed/);
    assert.deepEqual(readdirSync(dir), []);

    // Odd sizes are fine where the format takes them.
    const webm = await VideoWriter.open(join(dir, "odd.webm"), { ...base, width: 65, height: 47 });
    await assert.rejects(webm.write(clip[0]), /frame 0 is 64x48; this stream is 65x47, every frame must match/);
    await assert.rejects(webm.write({ width: 65, height: 47, data: new Uint8Array(10) }), /frame 0 has 10 bytes of data; a 65x47 RGB frame needs 9165/);
    await webm.write({ width: 65, height: 47, data: new Uint8Array(65 * 47 * 3).fill(90) });
    await webm.close();
    const probe = await probeVideo(join(dir, "odd.webm"));
    assert.deepEqual([probe.width, probe.height], [65, 47]);
    assert.ok(existsSync(join(dir, "odd.webm.json")));
  });
});
