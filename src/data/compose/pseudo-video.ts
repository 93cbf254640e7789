// Pseudo-videos from still images (VIDRD.md section 4): N frames along a smooth random camera path over the
// image (camera-path.ts), each frame the path's crop box resampled to the output size (crop-sampler.ts),
// captioned with the image's caption, optionally followed by the motion ("..., camera zooms in").

import sharp from "sharp";
import type { RgbFrame } from "../../media/frame.js";
import { createFrame } from "../../media/frame.js";
import type { Rng } from "../../tensor/rng.js";
import { type CameraPath, type CameraPathOptions, type CropBox, DEFAULT_CAMERA_PATH_OPTIONS, captionWithMotion, sampleCameraPath } from "./camera-path.js";
import { renderCrop } from "./crop-sampler.js";

/**
 * Source pixels per output pixel, at most, across the full box after pre-scaling: 2 keeps the sampler at
 * 2 x 2 taps while a zoom to half the full box still has a source pixel per output pixel.
 */
export const MAX_FOOTPRINT = 2;

export interface PseudoVideoOptions {
  width: number;
  height: number;
  frames: number;
  camera?: CameraPathOptions;
  /** Append the motion phrase to the caption; default false (the paper keeps the image's caption). */
  motionCaption?: boolean;
}

export interface PseudoVideo {
  caption: string;
  path: CameraPath;
  /** The first and last crop as fractions of the image's width and height, for the manifest. */
  startBox: CropBox;
  endBox: CropBox;
  /** The frames, rendered one at a time as they are pulled. */
  frames(): Generator<RgbFrame>;
}

/**
 * `image` shrunk with sharp (lanczos3) so that the full box of the output's aspect is at most
 * MAX_FOOTPRINT times the output size; smaller images are returned as they are (never enlarged: the sampler
 * interpolates those).
 */
export async function prescaleForOutput(image: RgbFrame, width: number, height: number): Promise<RgbFrame> {
  const aspect = width / height;
  const fullWidth = Math.min(image.width, image.height * aspect);
  const factor = (MAX_FOOTPRINT * width) / fullWidth;
  if (factor >= 1) return image;
  const w = Math.max(1, Math.round(image.width * factor));
  const h = Math.max(1, Math.round(image.height * factor));
  const out = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(w, h, { fit: "fill", kernel: "lanczos3" })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return createFrame(out.info.width, out.info.height, new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length));
}

function relative(box: CropBox, image: RgbFrame): CropBox {
  return { x: box.x / image.width, y: box.y / image.height, width: box.width / image.width, height: box.height / image.height };
}

/** A pseudo-video of `image` (already pre-scaled, see prescaleForOutput) with a path drawn from `rng`. */
export function pseudoVideo(image: RgbFrame, caption: string, rng: Rng, options: PseudoVideoOptions): PseudoVideo {
  const { width, height, frames } = options;
  const path = sampleCameraPath(rng, image.width, image.height, width / height, frames, options.camera ?? DEFAULT_CAMERA_PATH_OPTIONS);
  return {
    caption: options.motionCaption ? captionWithMotion(caption, path.motion) : caption,
    path,
    startBox: relative(path.boxes[0], image),
    endBox: relative(path.boxes[path.boxes.length - 1], image),
    *frames() {
      for (const box of path.boxes) yield renderCrop(image, box, width, height);
    },
  };
}

/** What the manifest records of a pseudo-video's camera: the motion, its amounts and the end crops. */
export function cameraDetails(video: PseudoVideo): Record<string, unknown> {
  const { motion, zoom, pan, ease } = video.path;
  return { motion, zoom, pan, ease, startBox: video.startBox, endBox: video.endBox };
}
