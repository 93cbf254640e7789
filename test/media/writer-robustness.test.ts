// Failures at the edges of a VideoWriter's life: the sidecar's path, long output names, memory over many
// frames, ffmpeg's error on one line, frame-rate bounds, temporaries left by killed processes, and the
// error for a video without frames.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { FfmpegError, NoFramesError, VideoWriter, probeVideo } from "../../src/media/index.js";
import { FfmpegFeeder, spawnTool } from "../../src/media/ffmpeg-process.js";
import { syntheticClip, withTempDir } from "./helpers.js";

const W = 32;
const H = 24;
const clip = syntheticClip(4, W, H);
const base = { fps: 10, width: W, height: H };

/** The pid of a process that has exited (and been reaped), so no process has it now, barring reuse. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((done) => child.on("close", done));
  return child.pid!;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("a folder where the sidecar goes is refused at open, before any work, and nothing is left", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "side.mp4");
    mkdirSync(`${path}.json`);
    await assert.rejects(VideoWriter.open(path, base), /VideoWriter\.open .*side\.mp4: its sidecar .*side\.mp4\.json would replace a folder; allowed: .*sidecar: false/);
    assert.deepEqual(readdirSync(dir), ["side.mp4.json"]);
    // Without a sidecar the folder is no obstacle.
    const writer = await VideoWriter.open(path, { ...base, sidecar: false });
    await writer.write(clip[0]);
    assert.deepEqual(await writer.close(), { path, sidecar: null, format: "mp4", frames: 1, complete: true });
    assert.deepEqual(readdirSync(dir).sort(), ["side.mp4", "side.mp4.json"]);
  });
});

test("a sidecar that cannot be published at close leaves neither it nor the video, and says so", async () => {
  await withTempDir(async (dir) => {
    for (const name of ["late.mp4", "late.gif", "late-frames"]) {
      const path = join(dir, name);
      const writer = await VideoWriter.open(path, base);
      for (const frame of clip) await writer.write(frame);
      // Appears after open: only the final rename can meet it.
      mkdirSync(join(`${path}.json`, "inside"), { recursive: true });
      await assert.rejects(writer.close(), /cannot write its sidecar .*\.json: a folder is there; neither the video nor the sidecar was published/);
      assert.deepEqual(readdirSync(dir), [`${name}.json`], name);
      await assert.rejects(writer.close(), /the writer is failed/);
      rmdirSync(join(`${path}.json`, "inside"));
      rmdirSync(`${path}.json`);
    }
  });
});

test("an existing sidecar file is replaced together with the video", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "again.webm");
    writeFileSync(path, "old video");
    writeFileSync(`${path}.json`, "old sidecar");
    const writer = await VideoWriter.open(path, base);
    await writer.write(clip[0]);
    await writer.write(clip[1]);
    await writer.close();
    assert.equal((JSON.parse(readFileSync(`${path}.json`, "utf8")) as { frames: number }).frames, 2);
    assert.equal((await probeVideo(path)).width, W);
    assert.deepEqual(readdirSync(dir).sort(), ["again.webm", "again.webm.json"]);
  });
});

test("output names up to the file-name limit work: temporaries are cut to fit 255 bytes", async () => {
  await withTempDir(async (dir) => {
    // 210 characters (the reported case), then 250 bytes: the sidecar's own name is then 255 bytes.
    const names = [`${"v".repeat(206)}.mp4`, `${"é".repeat(120)}${"x".repeat(5)}.webm`, `${"f".repeat(250)}`];
    for (const name of names) {
      const path = join(dir, name);
      const writer = await VideoWriter.open(path, base);
      await writer.write(clip[0]);
      const result = await writer.close();
      assert.equal(result.sidecar, `${path}.json`);
      assert.ok(existsSync(path) && existsSync(`${path}.json`), name);
    }
    assert.deepEqual(readdirSync(dir).sort(), names.flatMap((n) => [n, `${n}.json`]).sort());
  });
});

test("feeding frames keeps memory flat: no per-write reaction is left waiting on the encoder's exit", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  // A stand-in encoder that reads and discards its input: only the feeder's own memory is measured.
  const spawned = spawnTool(process.execPath, "ffmpeg", ["-e", "process.stdin.resume()"], { stdin: true, stdout: false });
  const feeder = new FfmpegFeeder(spawned, "test");
  const bytes = new Uint8Array(16);
  const closeListeners = spawned.child.listenerCount("close");
  for (let i = 0; i < 2000; i++) await feeder.write(bytes);
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const writes = 50_000;
  for (let i = 0; i < writes; i++) await feeder.write(bytes);
  gc();
  gc();
  const perWrite = (process.memoryUsage().heapUsed - before) / writes;
  const endListeners = spawned.endListeners;
  const closeListenersAfter = spawned.child.listenerCount("close");
  await feeder.end();
  // Measured: about 510 bytes a write with a Promise.race on the pending exit, under 1 byte without.
  assert.ok(perWrite < 100, `heap grew ${perWrite.toFixed(1)} bytes per write`);
  assert.equal(endListeners, 0);
  assert.equal(closeListenersAfter, closeListeners);
});

test("FfmpegError carries the cause on its first line; the stderr tail follows", () => {
  const e = new FfmpegError("probing x.mp4: ffprobe exited with status 1", 1, "first line\n\nx.mp4: Invalid data found when processing input\n");
  assert.equal(e.message.split("\n")[0], "probing x.mp4: ffprobe exited with status 1; its stderr ends with: x.mp4: Invalid data found when processing input");
  assert.equal(e.message, "probing x.mp4: ffprobe exited with status 1; its stderr ends with: x.mp4: Invalid data found when processing input\n  first line\n  x.mp4: Invalid data found when processing input");
  // ffmpeg's "Last message repeated" is not the cause; the line it repeats is.
  const repeated = new FfmpegError("encoding mp4: ffmpeg exited with status 1", 1, "av_interleaved_write_frame(): Invalid argument\n    Last message repeated 2 times");
  assert.equal(repeated.message.split("\n")[0], "encoding mp4: ffmpeg exited with status 1; its stderr ends with: av_interleaved_write_frame(): Invalid argument");
  assert.equal(new FfmpegError("reading x: ffmpeg exited with status 1", 1, "").message, "reading x: ffmpeg exited with status 1");
  assert.equal(new FfmpegError("w: ffmpeg exited with status 1", 1, "only\n").message, "w: ffmpeg exited with status 1; its stderr ends with: only");
});

test("fps below 0.01 is refused at open; 0.01 itself makes a valid video", async () => {
  await withTempDir(async (dir) => {
    for (const fps of [0.00001, 0.009, Number.NaN, 1001]) {
      await assert.rejects(VideoWriter.open(join(dir, "slow.mp4"), { ...base, fps }), /fps is .*; allowed: a number from 0\.01 \(one frame per 100 s\) to 1000/);
    }
    assert.deepEqual(readdirSync(dir), []);
    const path = join(dir, "slow.mp4");
    const writer = await VideoWriter.open(path, { ...base, fps: 0.01, sidecar: false });
    for (const frame of clip) await writer.write(frame);
    await writer.close();
    const probe = await probeVideo(path);
    assert.deepEqual([probe.frameCount, probe.fps, probe.durationSeconds], [4, 0.01, 400]);
  });
});

test("opening a writer removes temporaries of its output left by dead processes, never a live one's", async () => {
  await withTempDir(async (dir) => {
    const dead = await deadPid();
    const live = process.ppid;
    const stale = [
      `.out.mp4.${dead}.0badf00d.tmp.mp4`,
      `.out.mp4.json.${dead}.1234abcd.tmp`,
      `.out.mp4.json.${dead}.1234abcd-0000-4000-8000-00000000beef.tmp`, // an older version's sidecar temporary
    ];
    const kept = [
      `.out.mp4.${live}.0badf00d.tmp.mp4`, // a live process is writing it
      `.out.mp4.json.${live}.1234abcd.tmp`,
      `.other.mp4.${dead}.0badf00d.tmp.mp4`, // another output's
      `.out.mp4.${dead}.0badf00d.tmp.webm`, // another format's
      `.out.mp4.${dead}.notahexx.tmp.mp4`, // not named as vidrd names them
      "out.mp4.notes",
    ];
    for (const name of [...stale, ...kept]) writeFileSync(join(dir, name), "x");
    const writer = await VideoWriter.open(join(dir, "out.mp4"), base);
    await writer.write(clip[0]);
    await writer.close();
    assert.deepEqual(readdirSync(dir).sort(), [...kept, "out.mp4", "out.mp4.json"].sort());
  });
});

test("a writer process killed with SIGKILL leaves temporaries that the next writer of the same output removes", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "killed.mp4");
    const script = fileURLToPath(new URL("./fixtures/killable-writer.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script, path], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    let killed = false;
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      if (!killed && /frames 3\n/.test(out)) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    await new Promise((done) => child.on("close", done));
    assert.ok(killed, out);
    // Its ffmpeg (detached, so not killed with it) sees the end of its input and finishes the temporary
    // file; mp4's faststart pass even re-creates it by name. Wait for it to exit (a zombie it may stay
    // where nothing reaps orphans, hence the bound), as a later run would find it.
    const encoder = Number(/encoder (\d+)/.exec(out)?.[1]);
    for (let i = 0; i < 100 && isAlive(encoder); i++) await new Promise((r) => setTimeout(r, 50));
    const leftovers = readdirSync(dir);
    assert.ok(leftovers.length >= 1 && leftovers.every((n) => new RegExp(`^\\.killed\\.mp4(\\.json)?\\.${child.pid}\\.`).test(n)), `${child.pid}: ${leftovers.join(", ")}`);
    const writer = await VideoWriter.open(path, base);
    await writer.write(clip[0]);
    await writer.close();
    assert.deepEqual(readdirSync(dir).sort(), ["killed.mp4", "killed.mp4.json"]);
  });
});

test("close() or finish() with no frame rejects with NoFramesError and leaves nothing", async () => {
  await withTempDir(async (dir) => {
    for (const stop of ["close", "finish"] as const) {
      const writer = await VideoWriter.open(join(dir, "empty.gif"), base);
      const error = await writer[stop]().catch((e: unknown) => e);
      assert.ok(error instanceof NoFramesError, String(error));
      assert.equal(error.name, "NoFramesError");
      assert.match(error.message, new RegExp(`VideoWriter ${stop} .*empty\\.gif: no frame was written`));
      assert.deepEqual(readdirSync(dir), []);
    }
  });
});
