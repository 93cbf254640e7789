// Evaluation: the synthetic-world detector (metrics such as FVD and CLIPSIM join it here).

export { detectFrame, detectClip, ClipDetector, type FrameSize, type FrameDetection, type BackgroundDetection, type ClipDetection, type MotionMeasures } from "./world-detector.js";
