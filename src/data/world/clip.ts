// Product (b): short clips of one action with captions, "a red star moves left".

import { Rng } from "../../tensor/rng.js";
import { actionName, motionDirection, stateAt } from "./actions.js";
import { actionCaption } from "./captions.js";
import type { WorldConfig } from "./config.js";
import type { ActionLabel, ClipLabel, SceneLabel } from "./labels.js";
import { placeFresh, type Placement } from "./placement.js";
import { sceneFrames } from "./render.js";
import { sampleAction, sampleScene } from "./scene.js";

export interface ActionClip {
  label: ClipLabel;
  /** The clip's frames (RGB uint8 [height, width, 3] each), rendered one at a time as they are pulled. */
  frames(): Generator<Uint8Array>;
}

/** Whether a caption names the background, per WorldConfig.captionBackground. */
export function captionNamesBackground(rng: Rng, config: WorldConfig): boolean {
  return config.captionBackground === "always" || (config.captionBackground === "random" && rng.uniform() < 0.5);
}

/** The label of `placement` shown for `frames` frames (states t = 0..frames - 1). */
export function actionLabel(scene: SceneLabel, placement: Placement, frames: number, withBackground: boolean): ActionLabel {
  const { action, start } = placement;
  const name = actionName(action);
  const states = Array.from({ length: frames }, (_, t) => stateAt(action, start, t));
  return { scene, action, name, direction: motionDirection(action), states, caption: actionCaption(scene, name, withBackground) };
}

/**
 * Clip number `index` of the dataset drawn from `seed` (an integer in [0, 2^53) or a bigint): a function
 * of (config, seed, index) only. Its action is drawn first, then a scene whose shape can perform it.
 */
export function actionClip(config: WorldConfig, seed: number | bigint, index = 0): ActionClip {
  const rng = new Rng(seed).fork(index);
  // separate streams, so that changing how captions are drawn never moves an object
  const plan = rng.fork(0);
  const captions = rng.fork(1);
  const name = sampleAction(plan, config);
  const scene = sampleScene(plan, config, name);
  const placement = placeFresh(plan, name, scene.shape, config.clipFrames, config);
  const label: ClipLabel = {
    width: config.width,
    height: config.height,
    frames: config.clipFrames,
    ...actionLabel(scene, placement, config.clipFrames, captionNamesBackground(captions, config)),
  };
  return { label, frames: () => sceneFrames(scene, label.states, config) };
}
