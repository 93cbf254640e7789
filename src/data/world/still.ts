// Product (a): still images with captions, "a red star on a blue background".

import { Rng } from "../../tensor/rng.js";
import { stillCaption } from "./captions.js";
import type { WorldConfig } from "./config.js";
import type { StillLabel } from "./labels.js";
import { placeStill } from "./placement.js";
import { sceneFrames } from "./render.js";
import { sampleScene } from "./scene.js";

export interface StillImage {
  label: StillLabel;
  /** RGB uint8 [height, width, 3], row-major */
  frame: Uint8Array;
}

/**
 * Still image number `index` of the dataset drawn from `seed` (an integer in [0, 2^53) or a bigint): a
 * function of (config, seed, index) only, so any sample can be made without the ones before it.
 */
export function stillImage(config: WorldConfig, seed: number | bigint, index = 0): StillImage {
  const rng = new Rng(seed).fork(index);
  const scene = sampleScene(rng, config);
  const state = placeStill(rng, config);
  const [frame] = sceneFrames(scene, [state], config);
  return { label: { width: config.width, height: config.height, scene, state, caption: stillCaption(scene) }, frame };
}
