// What a video file holds, from ffprobe's JSON: size, rate, duration, frame count and metadata tags.

import { statSync } from "node:fs";
import { locateFfmpeg } from "./ffmpeg-locate.js";
import { runTool } from "./ffmpeg-process.js";

export interface VideoProbe {
  path: string;
  /** ffprobe's format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "gif". */
  container: string;
  /** Codec of the first video stream, e.g. "h264", "vp9", "gif". */
  codec: string;
  width: number;
  height: number;
  /** Frames per second (the stream's average rate, else its base rate); null when ffprobe cannot tell. */
  fps: number | null;
  durationSeconds: number | null;
  /**
   * Frames in the stream: the container's count (mp4), a decoded count when asked for (countFrames), else
   * round(duration * fps) as an estimate, marked by frameCountExact.
   */
  frameCount: number | null;
  frameCountExact: boolean;
  pixelFormat: string | null;
  /** Container-level tags, keys lower-cased (Matroska stores them upper-case). */
  tags: Record<string, string>;
}

export interface ProbeOptions {
  /** Decode the whole stream to count frames exactly when the container does not store the count. */
  countFrames?: boolean;
}

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  nb_read_frames?: string;
  duration?: string;
  pix_fmt?: string;
}
interface FfprobeOutput {
  streams?: FfprobeStream[];
  format?: { format_name?: string; duration?: string; tags?: Record<string, string> };
}

/** "30000/1001" -> 29.97; "0/0" and garbage -> null. */
export function parseRate(rate: string | undefined): number | null {
  if (rate === undefined) return null;
  const [n, d = "1"] = rate.split("/");
  const value = Number(n) / Number(d);
  return Number.isFinite(value) && value > 0 ? value : null;
}

function positiveNumber(text: string | undefined): number | null {
  const v = text === undefined ? NaN : Number(text);
  return Number.isFinite(v) && v >= 0 ? v : null;
}

/** Probes `path` with ffprobe; an error when it is missing, unreadable or has no video stream. */
export async function probeVideo(path: string, options: ProbeOptions = {}): Promise<VideoProbe> {
  try {
    if (!statSync(path).isFile()) throw new Error(`probeVideo: ${path} is not a file`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`probeVideo: ${path} does not exist`);
    throw e;
  }
  const { ffprobe } = locateFfmpeg();
  const args = ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-select_streams", "v:0"];
  if (options.countFrames) args.push("-count_frames");
  const json = await runTool(ffprobe, "ffprobe", [...args, `file:${path}`], `probing ${path}`);
  const out = JSON.parse(json) as FfprobeOutput;
  const stream = out.streams?.find((s) => s.codec_type === "video");
  if (!stream || !stream.width || !stream.height) throw new Error(`probeVideo: ${path} has no video stream`);
  const fps = parseRate(stream.avg_frame_rate) ?? parseRate(stream.r_frame_rate);
  const durationSeconds = positiveNumber(out.format?.duration) ?? positiveNumber(stream.duration);
  const stored = positiveNumber(stream.nb_read_frames) ?? positiveNumber(stream.nb_frames);
  const estimate = fps !== null && durationSeconds !== null ? Math.round(durationSeconds * fps) : null;
  const tags: Record<string, string> = {};
  for (const [key, value] of Object.entries(out.format?.tags ?? {})) tags[key.toLowerCase()] = value;
  return {
    path,
    container: out.format?.format_name ?? "unknown",
    codec: stream.codec_name ?? "unknown",
    width: stream.width,
    height: stream.height,
    fps,
    durationSeconds,
    frameCount: stored ?? estimate,
    frameCountExact: stored !== null,
    pixelFormat: stream.pix_fmt ?? null,
    tags,
  };
}
