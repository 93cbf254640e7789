// Video and image in and out (DESIGN.md, src/media/): frames stream through ffmpeg and sharp, never all
// held; outputs appear atomically with their metadata.

export { type RgbFrame, MAX_FRAME_SIDE, createFrame, checkFrame, tensorToFrames, framesToTensor } from "./frame.js";
export { FfmpegMissingError, FFMPEG_INSTALL_HINT, locateFfmpeg, type FfmpegTools } from "./ffmpeg-locate.js";
export { FfmpegError } from "./ffmpeg-process.js";
export {
  type VideoFormat,
  type GifDither,
  VIDEO_FORMATS,
  GIF_DITHERS,
  DEFAULT_GIF_DITHER,
  DEFAULT_CRF,
  CRF_RANGE,
  formatFromPath,
} from "./formats.js";
export { type VideoMetadata, metadataTags, sidecarPath, packageVersion } from "./metadata.js";
export { VideoWriter, NoFramesError, type VideoWriterOptions, type VideoWriteResult } from "./video-writer.js";
export { VideoReader, readVideoFrames, type VideoReadOptions } from "./video-reader.js";
export { probeVideo, type VideoProbe, type ProbeOptions } from "./probe.js";
export { readImage, writePng, encodePng, type ImageReadOptions } from "./image.js";
export { type ContactSheetOptions } from "./contact-sheet.js";
export { pngFrameName } from "./png-folder.js";
