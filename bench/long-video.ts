// Long-video strategies (issue 5, DESIGN.md "Benchmarks"), with a cheap linear test denoiser so the
// figures measure the strategies, not a model:
//   denoiser_evals_per_frame     denoiser calls per output frame, one figure per registered strategy, at
//                                equal settings (clip N = 8, T = 48 DDIM steps, 64 output frames, guidance
//                                scale 10 as one batched call, which counts once)
//   rss_ratio_256_vs_32_frames   vidrd (default mode): peak RSS of a child process generating 256 frames
//                                over one generating 32 (goal <= 1.10: memory must not grow with length),
//                                latents [1, 4, 8, 32, 32] (SD's 256 px), T = 50, a full GC after each clip;
//                                the same ratio with V8's own GC timing is printed beside it (lazy_gc_ratio)

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { classifierFreeGuidance } from "../src/pipelines/guidance.js";
import { constantPromptSource } from "../src/pipelines/prompt-schedule.js";
import { LONG_VIDEO_STRATEGY_NAMES, generateLongVideo } from "../src/pipelines/long-video/registry.js";
import { runBenchChild } from "./lib/child.js";
import type { ClipShape, Denoiser, LongVideoRequest } from "../src/pipelines/types.js";
import { SeededNoise } from "../src/tensor/seeded-noise.js";
import { Tensor } from "../src/tensor/tensor.js";
import { round } from "./lib/figures.js";
import type { Bench, BenchContext, Report } from "./lib/types.js";

const THIS_FILE = fileURLToPath(import.meta.url);
const CHILD_FLAG = "--long-video-child";
const METRICS = ["denoiser_evals_per_frame", "rss_ratio_256_vs_32_frames"] as const;

function progress(message: string): void {
  process.stderr.write(`[bench] long-video: ${message}\n`);
}

/** eps = 0.1 z: linear, frame-wise, and about as cheap as a denoiser can be; counts its calls and the latent frames (F) each call held. */
function countingDenoiser(counter: { calls: number; frames: number }): Denoiser {
  return async (z) => {
    counter.calls++;
    counter.frames += z.shape[2]!;
    const x = z.data as Float32Array;
    const out = new Float32Array(x.length);
    for (let k = 0; k < x.length; k++) out[k] = 0.1 * x[k]!;
    return new Tensor("float32", out, z.shape);
  };
}

function request(clip: ClipShape, steps: number, frames: number, denoiser: Denoiser): LongVideoRequest {
  const emb = (v: number) => new Tensor("float32", new Float32Array(4 * 8).fill(v), [1, 4, 8]);
  return {
    // a guided predictor calls the denoiser once per step, on the [uncond; cond] batch
    predictor: classifierFreeGuidance(denoiser, { scale: 10 }),
    prompts: constantPromptSource({ cond: emb(1), uncond: emb(0) }),
    scheduler: { steps },
    clip,
    length: { frames },
    noise: new SeededNoise(0),
  };
}

async function evalsPerFrame(report: Report): Promise<void> {
  const clip: ClipShape = { batch: 1, channels: 4, frames: 8, height: 4, width: 4 };
  const steps = 48; // a multiple of N, as FIFO-Diffusion's queue needs
  const frames = 64;
  const runs: { strategy: string; options: Record<string, unknown> }[] = [
    ...LONG_VIDEO_STRATEGY_NAMES.map((strategy) => ({ strategy, options: {} })),
    { strategy: "vidrd", options: { mode: "faithful" } },
  ];
  for (const { strategy, options } of runs) {
    const counter = { calls: 0, frames: 0 };
    const settings = { strategy, ...options, clip_frames: clip.frames, steps, frames };
    try {
      let out = 0;
      for await (const c of generateLongVideo(request(clip, steps, frames, countingDenoiser(counter)), strategy, options)) out += c.emitEnd - c.emitStart;
      report({
        metric: "denoiser_evals_per_frame",
        value: round(counter.calls / out),
        unit: "calls/frame",
        ...settings,
        output_frames: out,
        // latent frames through the denoiser per output frame: the work per call differs between strategies
        denoised_frames_per_frame: round(counter.frames / out),
      });
    } catch (e) {
      report({ metric: "denoiser_evals_per_frame", ...settings, skipped: (e as Error).message });
    }
  }
}

const RSS_CLIP: ClipShape = { batch: 1, channels: 4, frames: 8, height: 32, width: 32 };
const RSS_STEPS = 50;

/**
 * Child: generate `frames` frames with vidrd, streaming chunks away; print peak RSS. With `forceGc`, a full
 * GC runs after each chunk is consumed, so the peak reflects what is retained rather than when V8 chooses
 * to collect the per-step garbage (clip-sized ArrayBuffers, whose collection V8 defers by a limit it adapts
 * as the run goes on; without the forced GC, 32 and 256 frames differ by that slack alone).
 */
async function child(frames: number, forceGc: boolean): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (forceGc && !gc) throw new Error("forced GC needs node --expose-gc");
  const t0 = performance.now();
  const counter = { calls: 0, frames: 0 };
  let out = 0;
  let checksum = 0;
  for await (const c of generateLongVideo(request(RSS_CLIP, RSS_STEPS, frames, countingDenoiser(counter)), "vidrd")) {
    out += c.emitEnd - c.emitStart;
    checksum += (c.latents.data as Float32Array)[0]!; // the chunk is used, then dropped
    if (forceGc) gc!();
  }
  const result = { frames: out, evaluations: counter.calls, peak_rss_mb: process.resourceUsage().maxRSS / 1024, seconds: (performance.now() - t0) / 1000, checksum };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

interface ChildResult {
  frames: number;
  evaluations: number;
  peak_rss_mb: number;
  seconds: number;
}

function runChild(frames: number, forceGc: boolean): Promise<ChildResult> {
  return runBenchChild<ChildResult>(THIS_FILE, [CHILD_FLAG, String(frames), forceGc ? "gc" : "nogc"], forceGc ? ["--expose-gc"] : []);
}

async function rssRatio(report: Report): Promise<void> {
  const measured: Record<string, ChildResult> = {};
  for (const forceGc of [true, false]) {
    for (const frames of [32, 256]) {
      progress(`vidrd, ${frames} frames, ${forceGc ? "GC forced between clips" : "GC left to V8"} (child process)`);
      measured[`${frames}${forceGc ? "" : "_lazy_gc"}`] = await runChild(frames, forceGc);
    }
  }
  const ratio = (a: ChildResult, b: ChildResult) => round(a.peak_rss_mb / b.peak_rss_mb, 3);
  report({
    metric: "rss_ratio_256_vs_32_frames",
    value: ratio(measured["256"]!, measured["32"]!),
    unit: "ratio",
    goal: 1.1,
    strategy: "vidrd",
    clip: `[${RSS_CLIP.batch}, ${RSS_CLIP.channels}, ${RSS_CLIP.frames}, ${RSS_CLIP.height}, ${RSS_CLIP.width}]`,
    steps: RSS_STEPS,
    gc: "forced after each clip",
    peak_rss_32_frames_mb: round(measured["32"]!.peak_rss_mb),
    peak_rss_256_frames_mb: round(measured["256"]!.peak_rss_mb),
    evaluations_32: measured["32"]!.evaluations,
    evaluations_256: measured["256"]!.evaluations,
    seconds_256: round(measured["256"]!.seconds, 3),
    // the same runs with V8's own GC timing: the garbage it has not yet collected shows as extra RSS
    lazy_gc_ratio: ratio(measured["256_lazy_gc"]!, measured["32_lazy_gc"]!),
    lazy_gc_peak_rss_32_frames_mb: round(measured["32_lazy_gc"]!.peak_rss_mb),
    lazy_gc_peak_rss_256_frames_mb: round(measured["256_lazy_gc"]!.peak_rss_mb),
  });
}

async function run(report: Report, ctx: BenchContext): Promise<void> {
  if (ctx.wants("denoiser_evals_per_frame")) await evalsPerFrame(report);
  if (ctx.wants("rss_ratio_256_vs_32_frames")) await rssRatio(report);
}

export const benches: Bench[] = [{ name: "long-video", metrics: [...METRICS], run }];

if (process.argv[2] === CHILD_FLAG && resolve(process.argv[1] ?? "") === THIS_FILE) {
  child(Number(process.argv[3]), process.argv[4] === "gc").catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
