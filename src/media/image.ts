// Still images through sharp (libvips): any image it reads -> an RgbFrame at a chosen size, and frames
// -> PNG. Resizing follows the video reader's rule (cover the target, then crop the centre), so an image
// and a video of the same scene give the same frame.

import sharp, { type OutputInfo, type Sharp } from "sharp";
import { writeAll, writeFileAtomic } from "../io/atomic-file.js";
import { type RgbFrame, checkFrame, checkFrameSize, createFrame } from "./frame.js";

export interface ImageReadOptions {
  /** Target size; give both or neither (neither: the image's own size). */
  width?: number;
  height?: number;
}

/** Raw RGB bytes of `frame` as a sharp pipeline. */
export function sharpFromFrame(frame: RgbFrame): Sharp {
  return sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } });
}

/** Checks that width and height are both given or both absent; returns them (or null). */
export function targetSize(what: string, options: { width?: number; height?: number }): { width: number; height: number } | null {
  const { width, height } = options;
  if (width === undefined && height === undefined) return null;
  if (width === undefined || height === undefined) {
    throw new RangeError(`${what}: width is ${String(width)} and height is ${String(height)}; allowed: both (the output size) or neither (the source size)`);
  }
  checkFrameSize(what, width, height);
  return { width, height };
}

/**
 * Reads an image (PNG, JPEG, WebP, TIFF, AVIF, GIF's first frame...) as RGB: EXIF orientation applied,
 * transparency flattened onto white (what a viewer shows), grey and CMYK converted to sRGB, then scaled
 * to cover the target size and centre-cropped to it exactly.
 */
export async function readImage(path: string, options: ImageReadOptions = {}): Promise<RgbFrame> {
  const size = targetSize(`readImage ${path}`, options);
  let pipeline = sharp(path, { failOn: "error" }).rotate().flatten({ background: "#ffffff" }).toColourspace("srgb");
  if (size) pipeline = pipeline.resize(size.width, size.height, { fit: "cover", position: "centre", kernel: "lanczos3" });
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new Error(`readImage ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (out.info.channels !== 3) throw new Error(`readImage ${path}: decoded to ${out.info.channels} channels; expected 3 (RGB)`);
  return createFrame(out.info.width, out.info.height, new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length));
}

/** The PNG encoding of a frame. */
export async function encodePng(frame: RgbFrame): Promise<Buffer> {
  checkFrame("encodePng: frame", frame, frame.width, frame.height);
  return sharpFromFrame(frame).png({ compressionLevel: 6 }).toBuffer();
}

/** Writes a frame as a PNG file, atomically (no half-written file, even on a crash). */
export async function writePng(path: string, frame: RgbFrame): Promise<void> {
  const png = await encodePng(frame);
  writeFileAtomic(path, (fd) => writeAll(fd, png));
}
