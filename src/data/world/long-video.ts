// Product (c): long videos of consecutive actions with their frame ranges, the analog of an
// action-recognition dataset with temporal annotations.
//
// A video has `segments` segments of `segmentFrames` frames each. The first starts a scene; every later one
// either continues it (probability 1 - cutProbability: same object and background, the object starting
// exactly where the previous action left it, with an action drawn uniformly among those that fit from
// there) or cuts to a new scene (a fresh object and background, differing from the last scene in shape,
// color or background whenever the config allows it). A continuation with no action that fits becomes a
// cut, and its label says "cut". Frames are rendered as they are pulled, so a video of any length holds
// one frame and one background in memory; its labels hold 4 numbers per frame.

import { Rng } from "../../tensor/rng.js";
import { stateAt } from "./actions.js";
import { renderBackground } from "./background.js";
import { longVideoCaption } from "./captions.js";
import { actionLabel, captionNamesBackground } from "./clip.js";
import type { WorldConfig } from "./config.js";
import type { LongVideoLabel, SceneLabel, SegmentLabel, SegmentTransition } from "./labels.js";
import { intIn, placeContinuing, placeFresh, type Placement } from "./placement.js";
import { renderFrame } from "./render.js";
import { sameLook, sampleAction, sampleScene, shuffled } from "./scene.js";
import type { ObjectState } from "./shapes.js";

export interface LongVideo {
  label: LongVideoLabel;
  /** All frames in order (RGB uint8 [height, width, 3] each), rendered one at a time as they are pulled. */
  frames(): Generator<Uint8Array>;
}

/** How many times a cut redraws its scene to make it look different from the last one. */
const CUT_REDRAWS = 16;

/**
 * Long video number `index` of the dataset drawn from `seed` (an integer in [0, 2^53) or a bigint): a
 * function of (config, seed, index) only.
 */
export function longVideo(config: WorldConfig, seed: number | bigint, index = 0): LongVideo {
  const rng = new Rng(seed).fork(index);
  const plan = rng.fork(0);
  const captions = rng.fork(1);
  const count = intIn(plan, config.segments);
  const segments: SegmentLabel[] = [];
  let scene: SceneLabel | undefined;
  let resume: ObjectState | undefined; // the state at t = n of the previous segment
  let start = 0;
  for (let k = 0; k < count; k++) {
    const frames = intIn(plan, config.segmentFrames);
    let transition: SegmentTransition = k === 0 ? "start" : plan.uniform() < config.cutProbability ? "cut" : "continue";
    let placement: Placement | undefined;
    if (transition === "continue" && scene !== undefined && resume !== undefined) {
      // trying the allowed actions in a random order picks uniformly among those that fit
      for (const name of shuffled(plan, config.actions)) {
        placement = placeContinuing(plan, name, scene.shape, resume, frames, config);
        if (placement !== undefined) break;
      }
      if (placement === undefined) transition = "cut";
    }
    if (placement === undefined || scene === undefined) {
      const name = sampleAction(plan, config);
      let fresh = sampleScene(plan, config, name);
      for (let tries = 0; scene !== undefined && sameLook(fresh, scene) && tries < CUT_REDRAWS; tries++) fresh = sampleScene(plan, config, name);
      scene = fresh;
      placement = placeFresh(plan, name, scene.shape, frames, config);
    }
    const label = actionLabel(scene, placement, frames, captionNamesBackground(captions, config));
    segments.push({ start, end: start + frames, transition, ...label });
    resume = stateAt(placement.action, placement.start, frames);
    start += frames;
  }
  const label: LongVideoLabel = { width: config.width, height: config.height, frames: start, segments, caption: longVideoCaption(segments) };
  return {
    label,
    *frames() {
      let background: Uint8Array = new Uint8Array(0);
      for (const s of segments) {
        if (s.transition !== "continue") background = renderBackground(s.scene.background, config.width, config.height);
        for (const state of s.states) yield renderFrame(background, s.scene, state, config);
      }
    },
  };
}
