// Image-text pairs as a composition source: each captioned image becomes `perImage` pseudo-videos
// (pseudo-video.ts), each with its own camera path drawn from its clip id.
//
// An image is rejected, with the reason, when the file is missing or unreadable, when it does not decode
// (corrupt), when its caption is empty, or when it is too small: the full crop of the output's aspect
// must be at least half the output size, or every frame would be a blur of a few source pixels.

import { statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import type { RgbFrame } from "../../media/frame.js";
import { readImage } from "../../media/image.js";
import { Rng } from "../../tensor/rng.js";
import { type CameraPathOptions, captionWithMotion, drawCameraMotion, resolveCameraPathOptions } from "./camera-path.js";
import { clipId, seedFromId } from "./clip-id.js";
import type { ClipPlan, ComposeInput, ComposeSource, ComposeUnit } from "./compose.js";
import type { OutputSpec } from "./dataset-folder.js";
import { readCaptionsFile } from "./image-captions.js";
import { errorReason } from "./report.js";
import { cameraDetails, prescaleForOutput, pseudoVideo } from "./pseudo-video.js";

export interface ImageSourceOptions {
  /** The captions file (.csv or .jsonl). */
  captions: string;
  /** Pseudo-videos per image, each with its own path; default 1. */
  perImage?: number;
  camera?: Partial<CameraPathOptions>;
  motionCaption?: boolean;
  /** Enters every clip id, so another seed gives other camera paths; default 0. */
  seed?: number;
}

export class ImageSourceError extends Error {
  override name = "ImageSourceError";
}

/** Smallest full crop, as a fraction of the output size, an image may give. */
export const MIN_IMAGE_COVER = 0.5;

/** Reads the captions file (a missing or unreadable one throws) and lists its images as a source. */
export function imageSource(spec: OutputSpec, options: ImageSourceOptions): ComposeSource {
  const perImage = options.perImage ?? 1;
  if (!Number.isInteger(perImage) || perImage < 1 || perImage > 1000) throw new ImageSourceError(`images.perImage is ${String(options.perImage)}; allowed: an integer in [1, 1000]`);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ImageSourceError(`images.seed is ${String(options.seed)}; allowed: an integer in [0, 2^53)`);
  const camera = resolveCameraPathOptions(options.camera ?? {});
  const motionCaption = options.motionCaption ?? false;
  const root = dirname(resolve(options.captions));
  const file = readCaptionsFile(options.captions);
  return {
    inputCount: file.images.length + file.problems.length,
    async *inputs(): AsyncIterable<ComposeInput> {
      for (const p of file.problems) yield { input: `${options.captions}:${p.line}`, units: [], rejected: `bad record: line ${p.line}: ${p.reason}` };
      for (const image of file.images) {
        const input = image.path;
        if (image.caption === "") {
          yield { input, units: [], rejected: `no caption: line ${image.line} of ${options.captions} has an empty caption` };
          continue;
        }
        const path = isAbsolute(image.path) ? image.path : resolve(root, image.path);
        let bytes: number;
        try {
          const stat = statSync(path);
          if (!stat.isFile()) throw Object.assign(new Error("not a file"), { code: "not a file" });
          bytes = stat.size;
        } catch (e) {
          yield { input, units: [], rejected: `unreadable: ${path}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : ((e as NodeJS.ErrnoException).code ?? (e as Error).message)}` };
          continue;
        }
        // one decode for all the image's pseudo-videos, and none when they are all done
        let decoded: Promise<RgbFrame> | null = null;
        const load = (): Promise<RgbFrame> =>
          (decoded ??= (async () => {
            let frame: RgbFrame;
            try {
              frame = await readImage(path);
            } catch (e) {
              throw new ImageSourceError(`corrupt or unreadable image: ${errorReason(e)}`);
            }
            const fullWidth = Math.min(frame.width, frame.height * (spec.width / spec.height));
            if (fullWidth < MIN_IMAGE_COVER * spec.width) {
              throw new ImageSourceError(`too small: ${frame.width}x${frame.height} gives a ${Math.round(fullWidth)}-pixel-wide crop for ${spec.width}x${spec.height} clips; at least ${MIN_IMAGE_COVER * spec.width} needed`);
            }
            return prescaleForOutput(frame, spec.width, spec.height);
          })());
        const units: ComposeUnit[] = [];
        for (let k = 0; k < perImage; k++) {
          const id = clipId({ kind: "image", input: image.path, bytes, caption: image.caption, k, seed, camera, motionCaption, ...spec });
          const rng = new Rng(seedFromId(id));
          const caption = motionCaption ? captionWithMotion(image.caption, drawCameraMotion(rng.fork(0), camera)) : image.caption;
          const plan: ClipPlan = { id, start: 0, end: spec.frames, source: "image", caption, origin: { input: image.path, variant: k } };
          units.push({
            clips: [plan],
            async prepare() {
              const video = pseudoVideo(await load(), image.caption, rng, { ...spec, camera, motionCaption });
              return { frames: video.frames(), details: new Map([[id, { camera: cameraDetails(video) }]]) };
            },
          });
        }
        yield { input, units };
      }
    },
  };
}
