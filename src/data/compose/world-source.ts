// The synthetic world (src/data/world) as a composition source, with exact labels throughout:
//   stills  -> pseudo-videos (camera paths over the still, its caption, optionally the motion phrase)
//   clips   -> clips as they are (the world's clipFrames is the dataset's frames)
//   videos  -> long videos segmented by their own segment labels (windows.ts; the cuts are the segments
//              that start a new scene), each clip captioned with its segment's caption
// Stills are rendered at twice the output size so that a zoom to half the full box still has a source
// pixel per output pixel; the world's sizes are fractions of the frame, so the scene is the same.

import type { RgbFrame } from "../../media/frame.js";
import { Rng } from "../../tensor/rng.js";
import { type WorldConfig, type WorldConfigInput, WorldConfigError, actionClip, longVideo, resolveWorldConfig, stillImage } from "../world/index.js";
import { type CameraPathOptions, captionWithMotion, drawCameraMotion, resolveCameraPathOptions } from "./camera-path.js";
import { canonicalJson } from "../../io/canonical-json.js";
import { clipId, seedFromId } from "./clip-id.js";
import type { ClipPlan, ComposeInput, ComposeSource } from "./compose.js";
import type { OutputSpec } from "./dataset-folder.js";
import { cameraDetails, pseudoVideo } from "./pseudo-video.js";
import { planWindows } from "./windows.js";

export interface WorldSourceOptions {
  /** An integer in [0, 2^53) or a bigint in [0, 2^64). */
  seed: number | bigint;
  /** How many of each product; default 0. */
  stills?: number;
  clips?: number;
  videos?: number;
  /** World settings beyond what the output fixes (width, height, clipFrames, segmentFrames default to it). */
  world?: WorldConfigInput;
  camera?: Partial<CameraPathOptions>;
  motionCaption?: boolean;
  /** Frames between clip starts within a long video's segment; default the clip length. */
  stride?: number;
}

export class WorldSourceError extends Error {
  override name = "WorldSourceError";
}

/** The three products' seeds: independent streams of the one seed, so stills and clips do not share draws. */
function productSeed(seed: number | bigint, product: number): bigint {
  return BigInt(`0x${new Rng(seed).fork(product).getState().key}`);
}

function count(name: string, value: number | undefined): number {
  const v = value ?? 0;
  if (!Number.isInteger(v) || v < 0 || v > 10_000_000) throw new WorldSourceError(`world.${name} is ${String(value)}; allowed: an integer in [0, 10000000]`);
  return v;
}

function worldConfig(spec: OutputSpec, overrides: WorldConfigInput, scale: number): WorldConfig {
  try {
    return resolveWorldConfig({
      width: spec.width * scale,
      height: spec.height * scale,
      clipFrames: spec.frames,
      segmentFrames: [spec.frames, 2 * spec.frames],
      ...overrides,
    });
  } catch (e) {
    if (e instanceof WorldConfigError) throw new WorldSourceError(`the world cannot make ${spec.width}x${spec.height} clips of ${spec.frames} frames: ${e.message}`);
    throw e;
  }
}

function frame(config: WorldConfig, data: Uint8Array): RgbFrame {
  return { width: config.width, height: config.height, data };
}

/** The synthetic world's stills, clips and long videos as clips of `spec`. */
export function worldSource(spec: OutputSpec, options: WorldSourceOptions): ComposeSource {
  const stills = count("stills", options.stills);
  const clips = count("clips", options.clips);
  const videos = count("videos", options.videos);
  const overrides = options.world ?? {};
  const config = worldConfig(spec, overrides, 1);
  const stillConfig = worldConfig(spec, overrides, 2);
  const camera = resolveCameraPathOptions(options.camera ?? {});
  const motionCaption = options.motionCaption ?? false;
  const stride = options.stride ?? spec.frames;
  if (!Number.isInteger(stride) || stride < 1) throw new WorldSourceError(`world.stride is ${stride}; allowed: an integer >= 1`);
  const seed = String(options.seed);
  const seeds = [0, 1, 2].map((k) => productSeed(options.seed, k));
  // what decides a product's pixels and captions, in every id
  const world = canonicalJson(config);
  const base = { seed, world, width: spec.width, height: spec.height, frames: spec.frames, fps: spec.fps };

  return {
    inputCount: stills + clips + videos,
    async *inputs(): AsyncIterable<ComposeInput> {
      for (let index = 0; index < stills; index++) {
        const input = `world/still/${index}`;
        const id = clipId({ kind: "world-still", ...base, index, camera, motionCaption });
        const still = stillImage(stillConfig, seeds[0], index);
        const rng = new Rng(seedFromId(id));
        const caption = motionCaption ? captionWithMotion(still.label.caption, drawCameraMotion(rng.fork(0), camera)) : still.label.caption;
        const plan: ClipPlan = { id, start: 0, end: spec.frames, source: "world-still", caption, origin: { input, seed, index } };
        yield {
          input,
          units: [{
            clips: [plan],
            prepare() {
              const video = pseudoVideo(frame(stillConfig, still.frame), still.label.caption, rng, { ...spec, camera, motionCaption });
              return { frames: video.frames(), details: new Map([[id, { camera: cameraDetails(video) }]]) };
            },
          }],
        };
      }
      for (let index = 0; index < clips; index++) {
        const input = `world/clip/${index}`;
        const clip = actionClip(config, seeds[1], index);
        const plan: ClipPlan = {
          id: clipId({ kind: "world-clip", ...base, index }),
          start: 0,
          end: spec.frames,
          source: "world-clip",
          label: clip.label.name,
          caption: clip.label.caption,
          origin: { input, seed, index },
        };
        yield { input, units: [{ clips: [plan], prepare: () => ({ frames: (function* () { for (const f of clip.frames()) yield frame(config, f); })() }) }] };
      }
      for (let index = 0; index < videos; index++) {
        const input = `world/video/${index}`;
        const video = longVideo(config, seeds[2], index);
        const { segments } = video.label;
        const ranges = segments.map((s) => ({ start: s.start, end: s.end, label: s.name, caption: s.caption }));
        const cuts = segments.filter((s) => s.transition === "cut").map((s) => s.start);
        const plan = planWindows(video.label.frames, ranges, cuts, { clipFrames: spec.frames, stride });
        const clipPlans: ClipPlan[] = plan.windows.map((w) => ({
          id: clipId({ kind: "world-video", ...base, index, stride, start: w.start }),
          start: w.start,
          end: w.end,
          source: "world-video",
          label: w.label,
          caption: w.caption,
          origin: { input, range: [w.start, w.end], annotation: w.range, seed, index },
        }));
        yield {
          input,
          dropped: plan.dropped,
          units: clipPlans.length === 0 ? [] : [{ clips: clipPlans, prepare: () => ({ frames: (function* () { for (const f of video.frames()) yield frame(config, f); })() }) }],
        };
      }
    },
  };
}
