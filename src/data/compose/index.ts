// Composing training data (VIDRD.md section 4): pseudo-videos from captioned images, captioned clips cut
// from videos (by label ranges or fixed windows, never across a scene cut), the synthetic world's products;
// written as a dataset folder of mp4 clips and a sharded JSONL manifest that re-runs resume.

export {
  CAMERA_MOTION_KINDS,
  EASE_CURVES,
  PAN_DIRECTIONS,
  DEFAULT_CAMERA_PATH_OPTIONS,
  CameraPathError,
  resolveCameraPathOptions,
  drawCameraMotion,
  sampleCameraPath,
  easeAt,
  motionPhrase,
  captionWithMotion,
  type CameraMotion,
  type CameraMotionKind,
  type CameraPath,
  type CameraPathOptions,
  type CropBox,
  type EaseCurve,
  type PanDirection,
} from "./camera-path.js";
export { renderCrop } from "./crop-sampler.js";
export { MAX_FOOTPRINT, prescaleForOutput, pseudoVideo, cameraDetails, type PseudoVideo, type PseudoVideoOptions } from "./pseudo-video.js";
export {
  DEFAULT_SCENE_CUT_OPTIONS,
  SceneCutOptionsError,
  resolveSceneCutOptions,
  colorHistogram,
  histogramDistance,
  detectSceneCuts,
  FrameDifferences,
  type SceneCutOptions,
} from "./scene-cuts.js";
export { planWindows, resampleRange, type LabelRange, type PlannedWindow, type DroppedSpan, type WindowPlan, type WindowPlanOptions } from "./windows.js";
export { labelFromClassName, captionFromTemplate, checkCaptionTemplate, DEFAULT_CAPTION_TEMPLATE, CaptionTemplateError } from "./class-labels.js";
export {
  Captioner,
  CaptionerError,
  CaptionerAuthError,
  DEFAULT_CAPTION_PROMPT,
  chatCompletionsUrl,
  retryAfterMs,
  cleanCaption,
  type CaptionerOptions,
  type CaptionRequest,
  type CaptionerStats,
} from "./captioner.js";
export { CaptionCache, captionKey } from "./caption-cache.js";
export { clipId, seedFromId } from "./clip-id.js";
export {
  CLIP_SOURCES,
  manifestEntrySchema,
  manifestShardName,
  clipShardFolder,
  manifestFiles,
  readManifestLines,
  readManifest,
  ManifestStore,
  type ClipSource,
  type ClipOrigin,
  type ManifestEntry,
  type ManifestLine,
} from "./manifest.js";
export { CAPTION_CACHE_FOLDER, DATASET_FORMAT, DATASET_VERSION, DatasetFolder, DatasetFolderError, checkOutputSpec, readDatasetInfo, type OutputSpec, type DatasetInfo } from "./dataset-folder.js";
export { reportSummary, type ComposeReport, type RejectedItem, type DroppedItem } from "./report.js";
export {
  composeDataset,
  type ClipPlan,
  type ComposeUnit,
  type PreparedUnit,
  type ComposeInput,
  type ComposeContext,
  type ComposeSource,
  type ComposeEvent,
  type ComposeOptions,
} from "./compose.js";
export { worldSource, WorldSourceError, type WorldSourceOptions } from "./world-source.js";
export { readCaptionsFile, parseCsv, CaptionsFileError, type CaptionedImage, type CaptionsFile } from "./image-captions.js";
export { imageSource, ImageSourceError, MIN_IMAGE_COVER, type ImageSourceOptions } from "./image-source.js";
export { listVideoTree, readVideoList, VIDEO_EXTENSIONS, VideoInputError, type VideoInput, type VideoListing } from "./video-inputs.js";
export { videoSource, VideoSourceError, type VideoSourceOptions } from "./video-source.js";
