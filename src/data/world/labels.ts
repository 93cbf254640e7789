// Structured labels: everything a test, a detector or a dataset manifest needs to know about a sample,
// exactly (plain JSON-friendly objects; numbers are the values the frames were drawn from).

import type { ActionName, ActionSpec, Direction } from "./actions.js";
import type { BackgroundSpec } from "./background.js";
import type { ColorName } from "./palette.js";
import type { ObjectState, ShapeName } from "./shapes.js";

/** What is in the picture: one object on one background. */
export interface SceneLabel {
  shape: ShapeName;
  color: ColorName;
  background: BackgroundSpec;
}

/** Product (a): one still image. */
export interface StillLabel {
  width: number;
  height: number;
  scene: SceneLabel;
  state: ObjectState;
  caption: string;
}

/** One action of one object, over frames t = 0..states.length - 1. */
export interface ActionLabel {
  scene: SceneLabel;
  action: ActionSpec;
  name: ActionName;
  /** The net direction of motion; "none" for grow, shrink, rotate and bounce. */
  direction: Direction | "none";
  /** The object's state in every frame of the action. */
  states: ObjectState[];
  caption: string;
}

/** Product (b): a short clip of one action. */
export interface ClipLabel extends ActionLabel {
  width: number;
  height: number;
  frames: number;
}

/**
 * How a segment of a long video begins: "start" (the first segment), "continue" (same scene, the object
 * picks up where the previous segment left it) or "cut" (a new scene: new object and/or background, new
 * position; frames on either side are unrelated).
 */
export type SegmentTransition = "start" | "continue" | "cut";

/** One segment of a long video: frames [start, end). */
export interface SegmentLabel extends ActionLabel {
  start: number;
  end: number;
  transition: SegmentTransition;
}

/** Product (c): a long video of consecutive actions, with temporal annotations. */
export interface LongVideoLabel {
  width: number;
  height: number;
  frames: number;
  /** Contiguous and in order: segments[0].start = 0, segments[k].end = segments[k + 1].start, last end = frames. */
  segments: SegmentLabel[];
  caption: string;
}
