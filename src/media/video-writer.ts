// Writing a video frame by frame, as a pipeline produces it. Nothing is held: each frame goes to the
// encoder (ffmpeg's stdin, or sharp) before the next is accepted, so memory does not grow with length.
//
// The output appears only when complete: frames go to a temporary beside the target, renamed over it by
// close() or finish(). finish() is the clean early stop (after a Ctrl-C): the frames written so far
// become a valid, shorter video, and the sidecar says it is incomplete. abort() and any failure remove
// the temporary, leaving the target as it was.

import { PendingOutput } from "./atomic-output.js";
import { type ContactSheetOptions, ContactSheetSink, resolveContactSheet } from "./contact-sheet.js";
import { FfmpegSink } from "./ffmpeg-sink.js";
import { locateFfmpeg } from "./ffmpeg-locate.js";
import { type RgbFrame, checkFrame, checkFrameSize } from "./frame.js";
import type { FrameSink } from "./frame-sink.js";
import {
  CRF_RANGE, DEFAULT_CRF, DEFAULT_GIF_DITHER, GIF_DITHERS, type GifDither, VIDEO_FORMATS, type VideoFormat,
  checkSizeForFormat, formatFromPath,
} from "./formats.js";
import { type VideoMetadata, metadataTags, sidecarPath, writeSidecar } from "./metadata.js";
import { PngFolderSink } from "./png-folder.js";

export interface VideoWriterOptions {
  /** Frames per second, 0 < fps <= 1000. GIF stores delays in 1/100 s, so its rate is rounded to that. */
  fps: number;
  width: number;
  height: number;
  /** Default: from the path's extension (formatFromPath). */
  format?: VideoFormat;
  /** Constant-rate factor, mp4 (0-51, default 18) and webm (0-63, default 20) only; lower is better. */
  crf?: number;
  /** GIF only; default "sierra2_4a". */
  dither?: GifDither;
  /** contact-sheet only. */
  contactSheet?: ContactSheetOptions;
  /** Into the container (mp4, webm) and the sidecar. */
  metadata?: VideoMetadata;
  /** Write `<output>.json` beside the output; default true. */
  sidecar?: boolean;
}

/** What close() and finish() report. */
export interface VideoWriteResult {
  path: string;
  sidecar: string | null;
  format: VideoFormat;
  frames: number;
  complete: boolean;
}

type State = "open" | "closing" | "closed" | "aborted" | "failed";

function checkOptions(path: string, o: VideoWriterOptions): { format: VideoFormat; crf: number; dither: GifDither } {
  if (typeof o !== "object" || o === null) throw new TypeError(`VideoWriter.open ${path}: options are missing; allowed: { fps, width, height, ... }`);
  if (typeof o.fps !== "number" || !Number.isFinite(o.fps) || o.fps <= 0 || o.fps > 1000) {
    throw new RangeError(`VideoWriter.open ${path}: fps is ${String(o.fps)}; allowed: a number above 0 and at most 1000`);
  }
  checkFrameSize(`VideoWriter.open ${path}`, o.width, o.height);
  const format = o.format ?? formatFromPath(path);
  if (!VIDEO_FORMATS.includes(format)) throw new RangeError(`VideoWriter.open ${path}: format is ${String(format)}; allowed: ${VIDEO_FORMATS.join(", ")}`);
  checkSizeForFormat(format, o.width, o.height);
  let crf = 0;
  if (format === "mp4" || format === "webm") {
    const [lo, hi] = CRF_RANGE[format];
    crf = o.crf ?? DEFAULT_CRF[format];
    if (typeof crf !== "number" || !Number.isInteger(crf) || crf < lo || crf > hi) {
      throw new RangeError(`VideoWriter.open ${path}: crf is ${String(crf)}; allowed for ${format}: an integer from ${lo} to ${hi}`);
    }
  } else if (o.crf !== undefined) {
    throw new RangeError(`VideoWriter.open ${path}: crf applies to mp4 and webm only, not ${format}`);
  }
  const dither = o.dither ?? DEFAULT_GIF_DITHER;
  if (!GIF_DITHERS.includes(dither)) throw new RangeError(`VideoWriter.open ${path}: dither is ${String(dither)}; allowed: ${GIF_DITHERS.join(", ")}`);
  if (o.dither !== undefined && format !== "gif") throw new RangeError(`VideoWriter.open ${path}: dither applies to gif only, not ${format}`);
  if (o.contactSheet !== undefined && format !== "contact-sheet") throw new RangeError(`VideoWriter.open ${path}: contactSheet applies to the contact-sheet format (.png) only, not ${format}`);
  return { format, crf, dither };
}

export class VideoWriter {
  private state: State = "open";
  private written = 0;
  /** Every operation waits for the one before: a finish() from a signal handler lands after an in-flight write. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string,
    readonly format: VideoFormat,
    readonly width: number,
    readonly height: number,
    readonly fps: number,
    private readonly output: PendingOutput,
    private readonly sink: FrameSink,
    private readonly metadata: VideoMetadata,
    private readonly sidecar: boolean,
  ) {}

  /**
   * Opens `path` for writing. Checks every option, reserves the temporary output (so an unwritable path
   * fails here, before any frame is made) and starts the encoder.
   */
  static async open(path: string, options: VideoWriterOptions): Promise<VideoWriter> {
    const { format, crf, dither } = checkOptions(path, options);
    const { width, height, fps } = options;
    const metadata = options.metadata ?? {};
    const tags = metadataTags(metadata); // checks the metadata before anything is created
    if (format === "contact-sheet") resolveContactSheet(options.contactSheet ?? {}, width, height);
    const tools = format === "mp4" || format === "webm" || format === "gif" ? locateFfmpeg() : null;
    const output = PendingOutput.create(path, format === "png-frames" ? "folder" : "file", format === "contact-sheet" ? ".png" : format === "png-frames" ? "" : `.${format}`);
    let sink: FrameSink;
    try {
      if (format === "png-frames") sink = new PngFolderSink(output.temporary);
      else if (format === "contact-sheet") sink = new ContactSheetSink(output.temporary, width, height, options.contactSheet);
      else sink = FfmpegSink.start(tools!, format, { width, height, fps, crf, dither }, tags, output.temporary);
    } catch (e) {
      output.discard();
      throw e;
    }
    return new VideoWriter(output.target, format, width, height, fps, output, sink, metadata, options.sidecar ?? true);
  }

  /** Frames accepted so far. */
  get frames(): number {
    return this.written;
  }

  /** The encoder's process id (mp4, webm, gif), for tools that watch its resources. */
  get encoderPid(): number | undefined {
    return this.sink instanceof FfmpegSink ? this.sink.pid : undefined;
  }

  /**
   * Appends one frame (RGB, the stream's size). Resolves when the encoder has taken it, so the caller
   * may reuse the buffer; a failing encoder rejects with its error, and the output is then removed.
   */
  write(frame: RgbFrame): Promise<void> {
    return this.enqueue(async () => {
      this.expectOpen("write");
      checkFrame(`VideoWriter.write ${this.path}: frame ${this.written}`, frame, this.width, this.height);
      try {
        await this.sink.write(frame);
      } catch (e) {
        const aborted = this.state === "aborted";
        await this.fail();
        if (aborted) throw new Error(`VideoWriter.write ${this.path}: the writer was aborted while frame ${this.written} was being written`);
        throw e;
      }
      this.written++;
    });
  }

  /** Finalises the video from all frames written and publishes it (and the sidecar). */
  close(): Promise<VideoWriteResult> {
    return this.enqueue(() => this.publish(null));
  }

  /**
   * Stops early, cleanly: the frames written so far become a valid, shorter video; the sidecar records
   * `complete: false` and the reason. Waits for a write in flight. For a Ctrl-C handler.
   */
  finish(reason = "stopped early"): Promise<VideoWriteResult> {
    return this.enqueue(() => this.publish(reason));
  }

  /**
   * Stops and removes the output; the target path is left as it was. Safe at any time, and repeatable.
   * Once close() or finish() has begun finalising, the video is complete: abort then waits for it and
   * leaves it.
   */
  async abort(): Promise<void> {
    if (this.state === "closing") await this.queue;
    // Otherwise not queued: an abort must not wait behind a write that waits on a slow encoder.
    if (this.state !== "open") return;
    this.state = "aborted";
    try {
      await this.sink.abort();
    } finally {
      this.output.discard();
    }
  }

  private async publish(stopReason: string | null): Promise<VideoWriteResult> {
    this.expectOpen(stopReason === null ? "close" : "finish");
    if (this.written === 0) {
      await this.fail();
      throw new Error(`VideoWriter ${stopReason === null ? "close" : "finish"} ${this.path}: no frame was written, and a video needs at least 1; nothing was left on disk`);
    }
    this.state = "closing";
    try {
      await this.sink.finalize();
      this.output.commit();
    } catch (e) {
      await this.fail();
      throw e;
    }
    this.state = "closed";
    let sidecar: string | null = null;
    if (this.sidecar) {
      sidecar = sidecarPath(this.path);
      writeSidecar(sidecar, {
        file: this.path.replace(/^.*[/\\]/, ""),
        format: this.format,
        width: this.width,
        height: this.height,
        fps: this.fps,
        frames: this.written,
        complete: stopReason === null,
        ...(stopReason === null ? {} : { stopReason }),
        encoder: { ...this.sink.encoder },
      }, this.metadata);
    }
    return { path: this.path, sidecar, format: this.format, frames: this.written, complete: stopReason === null };
  }

  private async fail(): Promise<void> {
    if (this.state !== "aborted") this.state = "failed";
    try {
      await this.sink.abort();
    } finally {
      this.output.discard();
    }
  }

  private expectOpen(operation: string): void {
    if (this.state !== "open") throw new Error(`VideoWriter.${operation} ${this.path}: the writer is ${this.state}; allowed only while it is open`);
  }

  private enqueue<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation);
    this.queue = result.catch(() => {});
    return result;
  }
}
