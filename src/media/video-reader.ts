// Reading any video ffmpeg can decode as RGB frames, streaming: ffmpeg resamples the rate, scales and
// crops, and writes raw rgb24 to its stdout; the reader cuts that byte stream into frames. Reading pauses
// while the consumer works on a frame (the pipe fills and ffmpeg blocks), so only a frame or two is
// ever in memory, however long the video.
//
// Geometry, the same as readImage's: scale so the frame covers W x H (the shorter side, relative to the
// target's aspect, fits exactly), then crop the centre to exactly W x H. Non-square pixels (a sample
// aspect ratio other than 1) are accounted for, so circles stay round.

import { locateFfmpeg } from "./ffmpeg-locate.js";
import { endError, FfmpegError, spawnTool } from "./ffmpeg-process.js";
import { type RgbFrame, createFrame } from "./frame.js";
import { targetSize } from "./image.js";
import { type VideoProbe, probeVideo } from "./probe.js";

export interface VideoReadOptions {
  /** Output rate: frames are dropped or repeated to it (ffmpeg's fps filter). Default: the source's own frames. */
  fps?: number;
  /** Output size; both or neither (neither: the source's size). */
  width?: number;
  height?: number;
  /** Stop after this many frames. */
  maxFrames?: number;
}

/**
 * Scaling flags: lanczos like sharp's default kernel (image and video paths agree); accurate rounding
 * and full chroma interpolation make the YUV -> RGB conversion as exact as swscale gets, which the
 * PSNR of a round trip depends on.
 */
const SWS_FLAGS = "lanczos+accurate_rnd+full_chroma_int+full_chroma_inp";

/** The ffmpeg filter chain for `options` (null when the frames pass through unchanged). */
export function readFilter(fps: number | undefined, size: { width: number; height: number } | null): string | null {
  const filters: string[] = [];
  // Rate first: frames that are dropped are then never scaled.
  if (fps !== undefined) filters.push(`fps=${fps}`);
  if (size) {
    const { width: W, height: H } = size;
    // Cover factor s = max(W / display width, H / height); the display width is iw * sar. ffmpeg
    // evaluates the expressions per input, so one filter fits any source.
    const s = `max(${W}/(iw*sar),${H}/ih)`;
    filters.push(`scale=w='max(${W},round(iw*sar*${s}))':h='max(${H},round(ih*${s}))':flags=${SWS_FLAGS}`);
    filters.push(`crop=${W}:${H}`); // centred by default: x = (in_w - out_w) / 2, y likewise
  }
  return filters.length > 0 ? filters.join(",") : null;
}

function checkReadOptions(path: string, options: VideoReadOptions): void {
  const { fps, maxFrames } = options;
  if (fps !== undefined && (typeof fps !== "number" || !Number.isFinite(fps) || fps <= 0 || fps > 1000)) {
    throw new RangeError(`VideoReader ${path}: fps is ${String(fps)}; allowed: a number above 0 and at most 1000, or none (the source's frames)`);
  }
  if (maxFrames !== undefined && (!Number.isInteger(maxFrames) || maxFrames < 1)) {
    throw new RangeError(`VideoReader ${path}: maxFrames is ${String(maxFrames)}; allowed: a positive integer, or none (all frames)`);
  }
}

export class VideoReader implements AsyncIterable<RgbFrame> {
  private constructor(
    readonly path: string,
    /** What the source holds (ffprobe). */
    readonly source: VideoProbe,
    /** Size of the frames this reader yields. */
    readonly width: number,
    readonly height: number,
    private readonly options: VideoReadOptions,
  ) {}

  /** Probes `path` (it must exist and hold a video stream) and checks the options; decodes nothing yet. */
  static async open(path: string, options: VideoReadOptions = {}): Promise<VideoReader> {
    checkReadOptions(path, options);
    const size = targetSize(`VideoReader ${path}`, options);
    const source = await probeVideo(path);
    return new VideoReader(path, source, size?.width ?? source.width, size?.height ?? source.height, { ...options });
  }

  /** Frames per second of the yielded frames (null when the source's rate is unknown). */
  get fps(): number | null {
    return this.options.fps ?? this.source.fps;
  }

  [Symbol.asyncIterator](): AsyncGenerator<RgbFrame> {
    return this.frames();
  }

  /**
   * The frames, decoded as they are consumed. Each call starts a new pass from the beginning. Leaving the
   * loop early stops ffmpeg.
   */
  async *frames(): AsyncGenerator<RgbFrame> {
    const { ffmpeg } = locateFfmpeg();
    const size = targetSize(`VideoReader ${this.path}`, this.options);
    const filter = readFilter(this.options.fps, size);
    const args = [
      "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
      "-i", `file:${this.path}`,
      "-map", "0:v:0", "-an", "-sn", "-dn",
      "-sws_flags", SWS_FLAGS,
      ...(filter === null ? [] : ["-vf", filter]),
      ...(this.options.maxFrames === undefined ? [] : ["-frames:v", String(this.options.maxFrames)]),
      "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
    ];
    const spawned = spawnTool(ffmpeg, "ffmpeg", args, { stdin: false, stdout: true });
    const frameBytes = this.width * this.height * 3;
    let frame = new Uint8Array(frameBytes);
    let filled = 0;
    let count = 0;
    try {
      for await (const chunk of spawned.child.stdout! as AsyncIterable<Buffer>) {
        let at = 0;
        while (at < chunk.length) {
          const n = Math.min(frameBytes - filled, chunk.length - at);
          frame.set(chunk.subarray(at, at + n), filled);
          filled += n;
          at += n;
          if (filled === frameBytes) {
            yield createFrame(this.width, this.height, frame);
            count++;
            frame = new Uint8Array(frameBytes);
            filled = 0;
          }
        }
      }
      await spawned.ended;
      const error = endError(spawned, `reading ${this.path}`);
      if (error) throw error;
      if (filled !== 0) {
        throw new FfmpegError(`reading ${this.path}: the stream ended ${filled} bytes into frame ${count} (a frame is ${frameBytes} bytes)`, 0, spawned.stderr.tail());
      }
    } finally {
      // The consumer left early (break, throw) or decoding failed: stop ffmpeg rather than let it block
      // on a full pipe forever.
      if (spawned.end === null) {
        spawned.child.kill("SIGKILL");
        await spawned.ended;
      }
    }
  }
}

/** Frames of the video at `path`, streaming; see VideoReader. */
export async function* readVideoFrames(path: string, options: VideoReadOptions = {}): AsyncGenerator<RgbFrame> {
  const reader = await VideoReader.open(path, options);
  yield* reader.frames();
}
