// mp4, webm and gif: raw rgb24 frames piped into an ffmpeg that writes the temporary output file.

import type { RgbFrame } from "./frame.js";
import type { FrameSink } from "./frame-sink.js";
import { type FfmpegTools } from "./ffmpeg-locate.js";
import { FfmpegFeeder, spawnTool } from "./ffmpeg-process.js";
import { type EncodeSettings, type FfmpegFormat, encoderArgs, rawInputArgs } from "./formats.js";
import { metadataArgs } from "./metadata.js";

export class FfmpegSink implements FrameSink {
  readonly encoder: Readonly<Record<string, string | number>>;

  private constructor(
    private readonly feeder: FfmpegFeeder,
    format: FfmpegFormat,
    settings: EncodeSettings,
  ) {
    this.encoder =
      format === "gif" ? { codec: "gif", dither: settings.dither } : { codec: format === "mp4" ? "libx264" : "libvpx-vp9", crf: settings.crf, pixelFormat: "yuv420p" };
  }

  /** The ffmpeg process's id, for tools that watch its memory (bench/media.ts). */
  get pid(): number | undefined {
    return this.feeder.pid;
  }

  /** Starts ffmpeg writing `output` (an existing, empty temporary file, overwritten). */
  static start(tools: FfmpegTools, format: FfmpegFormat, settings: EncodeSettings, tags: Readonly<Record<string, string>>, output: string): FfmpegSink {
    const args = [
      "-hide_banner", "-nostats", "-loglevel", "error", "-y",
      ...rawInputArgs(settings),
      ...encoderArgs(format, settings),
      // GIF has no metadata; ffmpeg would drop the tags silently, the sidecar carries them instead.
      ...(format === "gif" ? ["-map_metadata", "-1"] : metadataArgs(tags)),
      // "file:" keeps a name with a colon or a leading dash from being read as a protocol or an option.
      `file:${output}`,
    ];
    const spawned = spawnTool(tools.ffmpeg, "ffmpeg", args, { stdin: true, stdout: false });
    return new FfmpegSink(new FfmpegFeeder(spawned, `encoding ${format}`), format, settings);
  }

  write(frame: RgbFrame): Promise<void> {
    return this.feeder.write(frame.data);
  }

  finalize(): Promise<void> {
    return this.feeder.end();
  }

  abort(): Promise<void> {
    return this.feeder.kill();
  }
}
