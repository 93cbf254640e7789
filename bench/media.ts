// Video encoding (issue #6): that memory does not grow with video length, and how fast frames encode.
// 256x256 frames to mp4 (libx264, the writer's defaults: crf 18, preset medium) through VideoWriter.
//
// Each length runs in its own child process, one after the other, so each peak RSS (ru_maxrss) is that
// encode's own and the two never compete. The frames come from a ring of 48 precomputed frames of moving
// content (generating them during the run would time the generator, not the encoder); the ring is the
// same size in both children. encode_rss_ratio_2000_vs_200_frames is the peak RSS of the vidrd process
// encoding 2000 frames over that of 200 (goal <= 1.10: nothing is held per frame); ffmpeg's own peak
// (VmHWM, read from /proc just before the input ends) is reported beside it. encode_fps: frames / wall
// seconds from open() to close() returning, in the 2000-frame run (ffmpeg's threads on this machine's cores).

import { readFileSync, rmSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type RgbFrame, VideoWriter } from "../src/media/index.js";
import { round } from "./lib/figures.js";
import { runBenchChild } from "./lib/child.js";
import type { Bench, Report } from "./lib/types.js";

const SIZE = 256;
const RING = 48;
const LENGTHS = { short: 200, long: 2000 } as const;
const METRICS = ["encode_rss_ratio_2000_vs_200_frames", "encode_fps"] as const;
const THIS_FILE = fileURLToPath(import.meta.url);
const CHILD_FLAG = "--media-child";

interface ChildResult {
  frames: number;
  seconds: number;
  peak_rss_mb: number;
  ffmpeg_peak_rss_mb: number | null;
}

function progress(message: string): void {
  process.stderr.write(`[bench] media: ${message}\n`);
}

/** Frame t of the ring: a gradient scrolling sideways under a bright disc moving in a circle. */
function ringFrame(t: number): RgbFrame {
  const data = new Uint8Array(SIZE * SIZE * 3);
  const angle = (2 * Math.PI * t) / RING;
  const cx = SIZE / 2 + (SIZE / 4) * Math.cos(angle);
  const cy = SIZE / 2 + (SIZE / 4) * Math.sin(angle);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < (SIZE / 8) ** 2;
      const o = (y * SIZE + x) * 3;
      data[o] = inside ? 240 : (x * 2 + t * 4) & 255;
      data[o + 1] = inside ? 210 : y;
      data[o + 2] = inside ? 60 : 255 - ((x + y) >> 1);
    }
  }
  return { width: SIZE, height: SIZE, data };
}

/** Peak resident set of a process in MB from /proc (Linux); null where unavailable. */
function peakRssMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** In the child: encode `frames` frames and measure. */
async function child(frames: number): Promise<ChildResult> {
  const ring = Array.from({ length: RING }, (_, t) => ringFrame(t));
  const dir = mkdtempSync(join(tmpdir(), "vidrd-bench-media-"));
  try {
    const t0 = performance.now();
    const writer = await VideoWriter.open(join(dir, "bench.mp4"), { fps: 24, width: SIZE, height: SIZE, sidecar: false });
    for (let i = 0; i < frames; i++) await writer.write(ring[i % RING]);
    const ffmpegPeak = peakRssMb(writer.encoderPid);
    await writer.close();
    const seconds = (performance.now() - t0) / 1000;
    return { frames, seconds, peak_rss_mb: process.resourceUsage().maxRSS / 1024, ffmpeg_peak_rss_mb: ffmpegPeak };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runChild(frames: number): Promise<ChildResult> {
  const r = await runBenchChild<ChildResult>(THIS_FILE, [CHILD_FLAG, String(frames)]);
  if (typeof r.peak_rss_mb !== "number" || typeof r.seconds !== "number") throw new Error(`media bench child (${frames} frames) gave no result`);
  return r;
}

async function run(report: Report): Promise<void> {
  const results: Record<keyof typeof LENGTHS, ChildResult | null> = { short: null, long: null };
  for (const key of ["short", "long"] as const) {
    progress(`encoding ${LENGTHS[key]} frames of ${SIZE}x${SIZE} to mp4 (child process)`);
    const r = await runChild(LENGTHS[key]);
    progress(`${r.frames} frames in ${r.seconds.toFixed(1)} s, peak RSS ${r.peak_rss_mb.toFixed(0)} MB (ffmpeg ${r.ffmpeg_peak_rss_mb?.toFixed(0) ?? "?"} MB)`);
    results[key] = r;
  }
  const { short, long } = results as Record<keyof typeof LENGTHS, ChildResult>;
  const context = { width: SIZE, height: SIZE, format: "mp4", codec: "libx264", crf: 18, preset: "medium" };
  const ffmpegRatio = short.ffmpeg_peak_rss_mb && long.ffmpeg_peak_rss_mb ? { ffmpeg_rss_ratio: round(long.ffmpeg_peak_rss_mb / short.ffmpeg_peak_rss_mb, 3) } : {};
  report({
    metric: "encode_rss_ratio_2000_vs_200_frames",
    value: round(long.peak_rss_mb / short.peak_rss_mb, 3),
    unit: "ratio",
    goal: "<= 1.10",
    rss_200_frames_mb: round(short.peak_rss_mb),
    rss_2000_frames_mb: round(long.peak_rss_mb),
    ffmpeg_rss_200_frames_mb: short.ffmpeg_peak_rss_mb === null ? null : round(short.ffmpeg_peak_rss_mb),
    ffmpeg_rss_2000_frames_mb: long.ffmpeg_peak_rss_mb === null ? null : round(long.ffmpeg_peak_rss_mb),
    ...ffmpegRatio,
    ...context,
  });
  report({ metric: "encode_fps", value: round(long.frames / long.seconds), unit: "frames/s", frames: long.frames, ...context });
}

export const benches: Bench[] = [{ name: "media", metrics: [...METRICS], run }];

if (process.argv[2] === CHILD_FLAG && resolve(process.argv[1] ?? "") === THIS_FILE) {
  child(Number(process.argv[3])).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
