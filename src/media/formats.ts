// The output formats, how a path names one, and the ffmpeg arguments that encode each. Encoder settings
// live here, next to the reasons they were chosen, so the writer only moves frames.

import { extname } from "node:path";

/** What a VideoWriter produces. "png-frames": a folder of frame_000000.png...; "contact-sheet": one PNG grid. */
export type VideoFormat = "mp4" | "webm" | "gif" | "png-frames" | "contact-sheet";
export const VIDEO_FORMATS: readonly VideoFormat[] = ["mp4", "webm", "gif", "png-frames", "contact-sheet"];

/** Formats ffmpeg encodes; the other two are written with sharp. */
export type FfmpegFormat = "mp4" | "webm" | "gif";

/** paletteuse's dithering: none, ordered (bayer, cheapest to compress), or error diffusion. */
export type GifDither = "none" | "bayer" | "floyd_steinberg" | "sierra2_4a";
export const GIF_DITHERS: readonly GifDither[] = ["none", "bayer", "floyd_steinberg", "sierra2_4a"];
/** ffmpeg's own default: error diffusion hides banding in the smooth gradients generated videos have. */
export const DEFAULT_GIF_DITHER: GifDither = "sierra2_4a";

/**
 * Default constant-rate factors: the round trip of the test clip (64x48, gradients and moving saturated
 * shapes) must stay above 35 dB RGB PSNR with a margin. mp4 18 gives 36.0 dB (20: 35.3, 23: 34.3);
 * VP9's scale differs from x264's, webm 20 gives 35.6 dB (24: 35.1, 28: 34.2). The ceiling with no
 * compression is 38.0 dB, set by yuv420p's half-resolution chroma.
 */
export const DEFAULT_CRF: Readonly<Record<"mp4" | "webm", number>> = { mp4: 18, webm: 20 };
export const CRF_RANGE: Readonly<Record<"mp4" | "webm", readonly [number, number]>> = { mp4: [0, 51], webm: [0, 63] };

const EXTENSIONS: Readonly<Record<string, VideoFormat>> = {
  ".mp4": "mp4",
  ".m4v": "mp4",
  ".webm": "webm",
  ".gif": "gif",
  ".png": "contact-sheet",
};

/**
 * The format a path names: .mp4/.m4v, .webm, .gif, .png (a contact sheet), or a folder (a path ending
 * in "/" or without an extension: PNG frames). Anything else is an error listing what is allowed.
 */
export function formatFromPath(path: string): VideoFormat {
  if (path.endsWith("/") || path.endsWith("\\")) return "png-frames";
  const ext = extname(path).toLowerCase();
  if (ext === "") return "png-frames";
  const format = EXTENSIONS[ext];
  if (format === undefined) {
    throw new RangeError(
      `output ${path}: unknown extension "${ext}"; allowed: ${Object.keys(EXTENSIONS).join(", ")}, or a folder (no extension) for PNG frames; or give the format explicitly`,
    );
  }
  return format;
}

export interface EncodeSettings {
  width: number;
  height: number;
  fps: number;
  /** mp4 and webm only; checked against CRF_RANGE. */
  crf: number;
  /** gif only. */
  dither: GifDither;
}

/**
 * yuv420p stores chroma at half resolution in both directions, and libx264 refuses odd sizes rather
 * than guess. Padding would silently change the size a reader gets back, so odd sizes are an error that
 * says what to do instead; libvpx and the GIF encoder handle odd sizes themselves.
 */
export function checkSizeForFormat(format: VideoFormat, width: number, height: number): void {
  if (format === "mp4" && (width % 2 !== 0 || height % 2 !== 0)) {
    throw new RangeError(
      `mp4 (H.264, yuv420p) needs an even width and height, got ${width}x${height}; allowed: even sizes (e.g. ${width + (width % 2)}x${height + (height % 2)}), or webm/gif/png, which take odd sizes`,
    );
  }
}

/**
 * RGB -> YUV with the BT.709 matrix in limited range, and the stream tagged so: players then convert back
 * with the same matrix. Left to itself swscale converts with BT.601 and writes no tag, and players guess
 * BT.709 for HD sizes, shifting colours. yuv420p keeps chroma at half resolution, which bounds the round
 * trip's PSNR on saturated edges (38.0 dB for the test clip with no compression at all); lanczos chroma
 * downsampling with exact rounding keeps the most of it (+1 dB over bilinear, +0.3 over bicubic).
 */
const YUV_BT709 = ["-vf", "scale=out_color_matrix=bt709:out_range=tv:flags=lanczos+accurate_rnd+full_chroma_int,format=yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"];

/** The codec, filter and container arguments of `format` (everything after the input). */
export function encoderArgs(format: FfmpegFormat, s: EncodeSettings): string[] {
  switch (format) {
    case "mp4":
      // +faststart moves the index to the front so a browser can play while downloading;
      // use_metadata_tags lets the mp4 muxer keep custom keys (prompt, seed...) instead of dropping them.
      return ["-c:v", "libx264", "-preset", "medium", "-crf", String(s.crf), ...YUV_BT709, "-movflags", "+faststart+use_metadata_tags", "-f", "mp4"];
    case "webm":
      // -b:v 0 makes crf a pure quality target (with a bit rate VP9 treats crf as a cap only); row-mt
      // and cpu-used 2 keep the encoder's speed reasonable with a quality loss below 0.2 dB.
      return ["-c:v", "libvpx-vp9", "-crf", String(s.crf), "-b:v", "0", "-row-mt", "1", "-deadline", "good", "-cpu-used", "2", ...YUV_BT709, "-f", "webm"];
    case "gif": {
      // One palette for the whole video from one pass: split feeds every frame both to palettegen (which
      // emits the palette at end of input) and to paletteuse, which waits for it. ffmpeg buffers the
      // frames meanwhile; vidrd itself still streams them. No transparent slot: video frames are opaque.
      const graph =
        `[0:v]split[frames][forPalette];[forPalette]palettegen=stats_mode=full:reserve_transparent=0[palette];` +
        `[frames][palette]paletteuse=dither=${s.dither}`;
      return ["-filter_complex", graph, "-loop", "0", "-f", "gif"];
    }
  }
}

/** Arguments for ffmpeg reading raw rgb24 frames of the given size and rate from stdin. */
export function rawInputArgs(s: Pick<EncodeSettings, "width" | "height" | "fps">): string[] {
  return ["-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", `${s.width}x${s.height}`, "-framerate", String(s.fps), "-i", "pipe:0"];
}
