// Writing a video frame by frame, as a pipeline produces it. Nothing is held: each frame goes to the
// encoder (ffmpeg's stdin, or sharp) before the next is accepted, so memory does not grow with length.
//
// The output appears only when complete: frames go to a temporary beside the target, renamed over it by
// close() or finish(). finish() is the clean early stop (after a Ctrl-C): the frames written so far
// become a valid, shorter video, and the sidecar says it is incomplete. abort() and any failure remove
// the temporary, leaving the target as it was.
//
// The sidecar `<output>.json` is published with the video, never after it: its folder entry is checked
// and its temporary reserved at open, its text written once the encoder has finished, and it is renamed
// into place just before the video. A failure at any step leaves neither (a sidecar already renamed is
// removed again when the video's own rename fails), so a reported failure never hides a published video.

import { rmSync, statSync, writeFileSync } from "node:fs";
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
import { type VideoMetadata, metadataTags, sidecarPath, sidecarText } from "./metadata.js";
import { PngFolderSink } from "./png-folder.js";

export interface VideoWriterOptions {
  /**
   * Frames per second, MIN_FPS (0.01, one frame per 100 s) <= fps <= MAX_FPS (1000). GIF stores delays in
   * 1/100 s, so its rate is rounded to that.
   */
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

/**
 * The lowest frame rate a VideoWriter takes: one frame per 100 s. Measured with ffmpeg 5.1, what every
 * format stores right is far below it but not below 0.002: GIF caps a frame's delay at 655.35 s (so
 * anything under 0.0016 fps silently plays faster), WebM's millisecond timestamps distort rates under
 * 0.00005, and the mp4 muxer fails at the end under 0.00002 ("Application provided duration ... is
 * invalid"). 0.01 keeps a margin for long videos' timestamps, and no real video is slower.
 */
export const MIN_FPS = 0.01;
/** The highest frame rate a VideoWriter takes. */
export const MAX_FPS = 1000;

/** close() or finish() on a writer that was given no frame: there is no video to publish (nothing is left on disk). */
export class NoFramesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NoFramesError";
  }
}

function checkOptions(path: string, o: VideoWriterOptions): { format: VideoFormat; crf: number; dither: GifDither } {
  if (typeof o !== "object" || o === null) throw new TypeError(`VideoWriter.open ${path}: options are missing; allowed: { fps, width, height, ... }`);
  if (typeof o.fps !== "number" || !Number.isFinite(o.fps) || o.fps < MIN_FPS || o.fps > MAX_FPS) {
    throw new RangeError(`VideoWriter.open ${path}: fps is ${String(o.fps)}; allowed: a number from ${MIN_FPS} (one frame per ${1 / MIN_FPS} s) to ${MAX_FPS}`);
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
    /** The sidecar's reserved temporary, or null when no sidecar is written. */
    private readonly sidecar: PendingOutput | null,
  ) {}

  /**
   * Opens `path` for writing. Checks every option, reserves the temporary output and the sidecar's (so an
   * unwritable path, or a folder where the sidecar goes, fails here, before any frame is made) and starts
   * the encoder. Temporaries for the same output left by killed processes are removed.
   */
  static async open(path: string, options: VideoWriterOptions): Promise<VideoWriter> {
    const { format, crf, dither } = checkOptions(path, options);
    const { width, height, fps } = options;
    const metadata = options.metadata ?? {};
    const tags = metadataTags(metadata); // checks the metadata before anything is created
    if (format === "contact-sheet") resolveContactSheet(options.contactSheet ?? {}, width, height);
    const tools = format === "mp4" || format === "webm" || format === "gif" ? locateFfmpeg() : null;
    const writeSidecar = options.sidecar ?? true;
    if (writeSidecar) checkSidecarTarget(path);
    const output = PendingOutput.create(path, format === "png-frames" ? "folder" : "file", format === "contact-sheet" ? ".png" : format === "png-frames" ? "" : `.${format}`);
    let sidecar: PendingOutput | null = null;
    let sink: FrameSink;
    try {
      if (writeSidecar) sidecar = PendingOutput.create(sidecarPath(output.target), "file");
      if (format === "png-frames") sink = new PngFolderSink(output.temporary);
      else if (format === "contact-sheet") sink = new ContactSheetSink(output.temporary, width, height, options.contactSheet);
      else sink = FfmpegSink.start(tools!, format, { width, height, fps, crf, dither }, tags, output.temporary);
    } catch (e) {
      output.discard();
      sidecar?.discard();
      throw e;
    }
    return new VideoWriter(output.target, format, width, height, fps, output, sink, metadata, sidecar);
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
      this.discardOutputs();
    }
  }

  private async publish(stopReason: string | null): Promise<VideoWriteResult> {
    const operation = stopReason === null ? "close" : "finish";
    this.expectOpen(operation);
    if (this.written === 0) {
      await this.fail();
      throw new NoFramesError(`VideoWriter ${operation} ${this.path}: no frame was written, and a video needs at least 1; nothing was left on disk`);
    }
    this.state = "closing";
    try {
      await this.sink.finalize();
    } catch (e) {
      await this.fail();
      throw e;
    }
    // The sidecar first, fully written and renamed, then the video: a failure before the video's rename
    // leaves neither (the sidecar is taken back); after it there is nothing left to fail.
    const sidecar = this.sidecar;
    if (sidecar !== null) {
      try {
        writeFileSync(sidecar.temporary, sidecarText({
          file: this.path.replace(/^.*[/\\]/, ""),
          format: this.format,
          width: this.width,
          height: this.height,
          fps: this.fps,
          frames: this.written,
          complete: stopReason === null,
          ...(stopReason === null ? {} : { stopReason }),
          encoder: { ...this.sink.encoder },
        }, this.metadata));
        sidecar.commit();
      } catch (e) {
        await this.fail();
        const err = e as NodeJS.ErrnoException;
        const reason = err.code === "EISDIR" || err.code === "ENOTEMPTY" || err.code === "EEXIST" ? "a folder is there" : err.message;
        throw new Error(`VideoWriter ${operation} ${this.path}: cannot write its sidecar ${sidecar.target}: ${reason}; neither the video nor the sidecar was published (allowed: a sidecar path that is free or a file, or sidecar: false)`, { cause: e });
      }
    }
    try {
      this.output.commit();
    } catch (e) {
      if (sidecar !== null) removeQuietly(sidecar.target);
      await this.fail();
      throw e;
    }
    this.state = "closed";
    return { path: this.path, sidecar: sidecar?.target ?? null, format: this.format, frames: this.written, complete: stopReason === null };
  }

  private async fail(): Promise<void> {
    if (this.state !== "aborted") this.state = "failed";
    try {
      await this.sink.abort();
    } finally {
      this.discardOutputs();
    }
  }

  private discardOutputs(): void {
    try {
      this.output.discard();
    } finally {
      this.sidecar?.discard();
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

/** Refuses, before anything is made, a sidecar path `<output>.json` that is a folder: its rename would fail at the end. */
function checkSidecarTarget(path: string): void {
  const target = sidecarPath(path);
  let isDirectory = false;
  try {
    isDirectory = statSync(target).isDirectory();
  } catch {
    return; // absent (or its folder missing, reported for the video itself)
  }
  if (isDirectory) {
    throw new Error(`VideoWriter.open ${path}: its sidecar ${target} would replace a folder; allowed: remove or rename that folder, choose another output name, or pass sidecar: false`);
  }
}

function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // The original error is the one worth reporting.
  }
}
