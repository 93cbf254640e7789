// The frame every media reader and writer speaks: 8-bit RGB, row-major H x W x 3, the layout of
// ffmpeg's rgb24 and of sharp's raw output, so frames travel to and from both without reshuffling.
// The model side works in float [-1, 1] tensors [B, 3, F, H, W]; the converters here are the only
// place the two layouts meet.

import { Tensor } from "../tensor/tensor.js";
import { shapeText } from "../tensor/validate.js";

/** One video frame: `data[(y * width + x) * 3 + c]` is channel c (R, G, B) of pixel (x, y). */
export interface RgbFrame {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Largest side any media function accepts; beyond it a frame is a mistake, not a video (and sizes overflow). */
export const MAX_FRAME_SIDE = 16384;

export function checkFrameSize(what: string, width: unknown, height: unknown): void {
  for (const [name, v] of [["width", width], ["height", height]] as const) {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_FRAME_SIDE) {
      throw new RangeError(`${what}: ${name} is ${String(v)}; allowed: an integer from 1 to ${MAX_FRAME_SIDE}`);
    }
  }
}

/** A frame of the given size: `data` when given (checked: width * height * 3 bytes), else black. */
export function createFrame(width: number, height: number, data?: Uint8Array): RgbFrame {
  checkFrameSize("createFrame", width, height);
  const bytes = width * height * 3;
  if (data === undefined) return { width, height, data: new Uint8Array(bytes) };
  if (!(data instanceof Uint8Array)) throw new TypeError(`createFrame: data is ${describe(data)}; allowed: a Uint8Array of ${bytes} bytes (RGB)`);
  if (data.length !== bytes) {
    throw new RangeError(`createFrame: data has ${data.length} bytes but a ${width}x${height} RGB frame needs ${bytes} (width * height * 3)`);
  }
  return { width, height, data };
}

/**
 * Checks that `frame` is an RgbFrame of `width` x `height`; `what` names the caller and the frame in the
 * message (e.g. "VideoWriter.write: frame 12").
 */
export function checkFrame(what: string, frame: unknown, width: number, height: number): asserts frame is RgbFrame {
  const f = frame as Partial<RgbFrame> | null;
  if (typeof f !== "object" || f === null || !(f.data instanceof Uint8Array)) {
    throw new TypeError(`${what} is ${describe(frame)}; allowed: { width, height, data: Uint8Array } (RGB, row-major)`);
  }
  if (f.width !== width || f.height !== height) {
    throw new RangeError(`${what} is ${String(f.width)}x${String(f.height)}; this stream is ${width}x${height}, every frame must match`);
  }
  if (f.data.length !== width * height * 3) {
    throw new RangeError(`${what} has ${f.data.length} bytes of data; a ${width}x${height} RGB frame needs ${width * height * 3}`);
  }
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (typeof x !== "object") return typeof x;
  return (x as object).constructor?.name ?? "an object";
}

/** [-1, 1] -> {0..255}: x = 2 * (v / 255) - 1 inverted, rounded to nearest, out-of-range values clamped. */
function toByte(x: number): number {
  const v = Math.round((x + 1) * 127.5);
  return v < 0 ? 0 : v > 255 ? 255 : Number.isNaN(v) ? 0 : v;
}

/** [B, 3, F, H, W] of a float32 tensor, or an error naming the shape and what is allowed. */
function videoShape(op: string, t: Tensor): [number, number, number, number, number] {
  if (t.dtype !== "float32" || t.shape.length !== 5 || t.shape[1] !== 3) {
    throw new RangeError(`${op}: the tensor is ${t.dtype} ${shapeText(t.shape)}; allowed: float32 [B, 3, F, H, W] with values in [-1, 1]`);
  }
  return t.shape as unknown as [number, number, number, number, number];
}

/**
 * The frames of video `batch` of a decoded tensor [B, 3, F, H, W] in [-1, 1] (the VAE decoder's output),
 * in frame order. A generator, so a writer consumes one frame's bytes at a time.
 */
export function* tensorToFrames(video: Tensor, batch = 0): Generator<RgbFrame> {
  const [B, , F, H, W] = videoShape("tensorToFrames", video);
  if (!Number.isInteger(batch) || batch < 0 || batch >= B) {
    throw new RangeError(`tensorToFrames: batch is ${batch}; allowed: an integer from 0 to ${B - 1} (the tensor has B = ${B})`);
  }
  checkFrameSize("tensorToFrames", W, H);
  const src = video.data as Float32Array;
  const plane = H * W;
  const channelRun = F * plane; // values of one (b, c) pair: F planes of H * W
  for (let f = 0; f < F; f++) {
    const data = new Uint8Array(plane * 3);
    for (let c = 0; c < 3; c++) {
      const from = (batch * 3 + c) * channelRun + f * plane;
      for (let p = 0; p < plane; p++) data[p * 3 + c] = toByte(src[from + p]);
    }
    yield { width: W, height: H, data };
  }
}

/** Frames (all the same size) -> float32 [1, 3, F, H, W] in [-1, 1]: v / 127.5 - 1, the model's input range. */
export function framesToTensor(frames: readonly RgbFrame[]): Tensor<"float32"> {
  if (frames.length === 0) throw new RangeError("framesToTensor: no frames; allowed: at least 1 frame");
  const { width: W, height: H } = frames[0];
  const plane = H * W;
  const F = frames.length;
  const out = new Float32Array(3 * F * plane);
  frames.forEach((frame, f) => {
    checkFrame(`framesToTensor: frame ${f}`, frame, W, H);
    const d = frame.data;
    for (let c = 0; c < 3; c++) {
      const to = c * F * plane + f * plane;
      for (let p = 0; p < plane; p++) out[to + p] = d[p * 3 + c] / 127.5 - 1;
    }
  });
  return new Tensor("float32", out, [1, 3, F, H, W]);
}
