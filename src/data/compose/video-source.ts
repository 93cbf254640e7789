// Videos (a class tree or a list, video-inputs.ts) as a composition source: each video is cut into clips
// of the dataset's frames and fps, by its label ranges or in fixed windows, never across a scene cut.
//
// Two passes over each video, both streaming: the first decodes it at the output size and rate and
// measures frame differences (scene-cuts.ts), which gives the frame count and the cuts, hence the windows
// (windows.ts); the second writes the clips. Frames of the first pass are kept for the second while they
// fit in `bufferBytes` (a 64 x 64 video of 10 minutes at 8 fps is 59 MB), else the video is decoded again.
// The plan (count, cuts, rate) is stored in the dataset folder, so a resumed run knows the windows, hence
// the clip ids, without decoding anything that is done.
//
// Captions: a range's or the video's own caption when given; else the captioning service when there is
// one (the label as a hint); else the label through the caption template. A video with none of these is
// rejected. Ids hash the video (its name and size), the window's first frame, the output spec and the
// caption recipe; not the stride or the cut settings, so changing those keeps every window that stays.

import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeAll, writeFileAtomic } from "../../io/atomic-file.js";
import type { RgbFrame } from "../../media/frame.js";
import { probeVideo } from "../../media/probe.js";
import { readVideoFrames } from "../../media/video-reader.js";
import { DEFAULT_CAPTION_TEMPLATE, captionFromTemplate, checkCaptionTemplate } from "./class-labels.js";
import { clipId } from "./clip-id.js";
import type { ClipPlan, ComposeContext, ComposeInput, ComposeSource } from "./compose.js";
import type { OutputSpec } from "./dataset-folder.js";
import { errorReason } from "./report.js";
import { FrameDifferences, type SceneCutOptions, detectSceneCuts, resolveSceneCutOptions } from "./scene-cuts.js";
import { type VideoInput, type VideoListing, listVideoTree, readVideoList } from "./video-inputs.js";
import { type LabelRange, planWindows, resampleRange } from "./windows.js";

export interface VideoSourceOptions {
  /** A class tree (<root>/<ClassName>/<videos>) or a JSONL list: exactly one. */
  root?: string;
  list?: string;
  /** Frames between clip starts; default the clip length (back-to-back clips). */
  stride?: number;
  /** For class labels, containing {label}; default "a person {label}". */
  captionTemplate?: string;
  cuts?: Partial<SceneCutOptions>;
  /** Decoded frames kept from the planning pass for the writing pass; default 256 MiB. */
  bufferBytes?: number;
}

export class VideoSourceError extends Error {
  override name = "VideoSourceError";
}

/** What the planning pass learns about a video, stored in the dataset's .plans folder. */
interface VideoPlan {
  version: 1;
  /** Frames at the dataset's fps and size. */
  frames: number;
  cuts: number[];
  /** The video's own rate (ffprobe), null when unknown. */
  sourceFps: number | null;
  /** The rate the video is read at: null when the dataset's fps is the video's own (no resampling). */
  readFps: number | null;
}

const DEFAULT_BUFFER_BYTES = 256 * 1024 * 1024;


/** The planning pass: probe, decode at the output size and rate, count, find cuts; keeps frames within budget. */
async function planVideo(path: string, spec: OutputSpec, cuts: SceneCutOptions, bufferBytes: number): Promise<{ plan: VideoPlan; frames: RgbFrame[] | null }> {
  const probe = await probeVideo(path);
  const readFps = probe.fps !== null && Math.abs(probe.fps - spec.fps) < 1e-3 ? null : spec.fps;
  const differences = new FrameDifferences();
  let kept: RgbFrame[] | null = [];
  const frameBytes = spec.width * spec.height * 3;
  for await (const frame of readVideoFrames(path, { width: spec.width, height: spec.height, ...(readFps === null ? {} : { fps: readFps }) })) {
    differences.push(frame.data);
    if (kept !== null && (kept.length + 1) * frameBytes <= bufferBytes) kept.push(frame);
    else kept = null; // over budget: the writing pass decodes again
  }
  const plan: VideoPlan = { version: 1, frames: differences.values.length, cuts: detectSceneCuts(differences.values, cuts), sourceFps: probe.fps, readFps };
  return { plan, frames: kept };
}

function readPlan(path: string): VideoPlan | null {
  try {
    const plan = JSON.parse(readFileSync(path, "utf8")) as VideoPlan;
    return plan.version === 1 && Number.isInteger(plan.frames) && Array.isArray(plan.cuts) ? plan : null;
  } catch {
    return null;
  }
}

/** Clips of videos (a class tree or a JSONL list). Lists the inputs now: a missing root or list throws. */
export function videoSource(spec: OutputSpec, options: VideoSourceOptions): ComposeSource {
  if ((options.root === undefined) === (options.list === undefined)) throw new VideoSourceError("videos: give exactly one of root (a class tree) and list (a JSONL file)");
  const stride = options.stride ?? spec.frames;
  if (!Number.isInteger(stride) || stride < 1) throw new VideoSourceError(`videos.stride is ${String(options.stride)}; allowed: an integer >= 1`);
  const template = checkCaptionTemplate(options.captionTemplate ?? DEFAULT_CAPTION_TEMPLATE);
  const cuts = resolveSceneCutOptions(options.cuts);
  const bufferBytes = options.bufferBytes ?? DEFAULT_BUFFER_BYTES;
  if (!Number.isInteger(bufferBytes) || bufferBytes < 0) throw new VideoSourceError(`videos.bufferBytes is ${String(options.bufferBytes)}; allowed: an integer >= 0`);
  const listing: VideoListing = options.root !== undefined ? listVideoTree(options.root) : readVideoList(options.list!);

  async function* one(video: VideoInput, context: ComposeContext): AsyncGenerator<ComposeInput> {
    const input = video.name;
    let stat;
    try {
      stat = statSync(video.path);
      if (!stat.isFile()) throw Object.assign(new Error(), { code: "not a file" });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      yield { input, units: [], rejected: `unreadable: ${video.path}: ${code === "ENOENT" ? "does not exist" : (code ?? errorReason(e))}` };
      return;
    }
    const hasLabels = video.label !== undefined || video.caption !== undefined || (video.ranges ?? []).some((r) => r.label !== undefined || r.caption !== undefined);
    if (!hasLabels && !context.captioning) {
      yield { input, units: [], rejected: "no caption: the video has no label or caption and no captioning service is configured" };
      return;
    }
    const planKey = clipId({ input, bytes: stat.size, mtimeMs: stat.mtimeMs, width: spec.width, height: spec.height, fps: spec.fps, cuts });
    const planPath = join(context.plansDir, `${planKey}.json`);
    let plan = readPlan(planPath);
    let buffered: RgbFrame[] | null = null;
    if (plan === null) {
      try {
        ({ plan, frames: buffered } = await planVideo(video.path, spec, cuts, bufferBytes));
      } catch (e) {
        yield { input, units: [], rejected: `corrupt or unreadable: ${errorReason(e)}` };
        return;
      }
      mkdirSync(context.plansDir, { recursive: true });
      const body = Buffer.from(`${JSON.stringify(plan)}\n`);
      writeFileAtomic(planPath, (fd) => writeAll(fd, body));
    }
    if (plan.frames === 0) {
      yield { input, units: [], rejected: "corrupt or unreadable: no frame could be decoded" };
      return;
    }
    if (plan.frames < spec.frames) {
      yield { input, units: [], rejected: `too short: ${plan.frames} frames at ${spec.fps} fps; a clip needs ${spec.frames}` };
      return;
    }
    let ranges: LabelRange[] | null = null;
    if (video.ranges !== undefined) {
      const { sourceFps, readFps } = plan;
      if (readFps !== null && sourceFps === null) {
        yield { input, units: [], rejected: "unreadable frame rate: the video's ranges cannot be mapped to the dataset's fps" };
        return;
      }
      ranges = video.ranges.map((r) => {
        const [start, end] = readFps === null ? [r.start, r.end] : resampleRange(r.start, r.end, sourceFps!, readFps);
        return { ...r, start, end };
      });
    }
    const windows = planWindows(plan.frames, ranges, plan.cuts, { clipFrames: spec.frames, stride });
    const clips: ClipPlan[] = windows.windows.map((w) => {
      const label = w.label ?? video.label;
      const caption = w.caption ?? video.caption ?? (context.captioner === null && label !== undefined ? captionFromTemplate(template, label) : undefined);
      const recipe = caption !== undefined ? { caption } : { service: context.captioner, label: label ?? null };
      return {
        id: clipId({ kind: "video", input, bytes: stat.size, start: w.start, width: spec.width, height: spec.height, frames: spec.frames, fps: spec.fps, ...recipe }),
        start: w.start,
        end: w.end,
        source: "video",
        ...(label === undefined ? {} : { label }),
        ...(caption === undefined ? {} : { caption }),
        origin: { input, range: [w.start, w.end], ...(ranges === null ? {} : { annotation: w.range }) },
      };
    });
    const readFps = plan.readFps;
    const frames = buffered;
    yield {
      input,
      dropped: windows.dropped,
      units: clips.length === 0 ? [] : [{
        clips,
        prepare: () => ({
          frames: frames ?? readVideoFrames(video.path, { width: spec.width, height: spec.height, ...(readFps === null ? {} : { fps: readFps }) }),
        }),
      }],
    };
  }

  return {
    inputCount: listing.videos.length + listing.problems.length,
    async *inputs(context: ComposeContext): AsyncIterable<ComposeInput> {
      for (const p of listing.problems) yield { input: p.input, units: [], rejected: p.reason };
      for (const video of listing.videos) yield* one(video, context);
    },
  };
}
