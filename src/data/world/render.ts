// Drawing frames: an opaque object composited over a background with its anti-aliased coverage,
// pixel = round(background * (1 - coverage) + color * coverage) per channel.

import { renderBackground } from "./background.js";
import type { WorldConfig } from "./config.js";
import type { SceneLabel } from "./labels.js";
import { NAMED_RGB } from "./palette.js";
import { shapeCoverage, type ObjectState } from "./shapes.js";

/** One frame: the object of `scene` at `state` over `background` (renderBackground of the scene). */
export function renderFrame(background: Uint8Array, scene: SceneLabel, state: ObjectState, config: WorldConfig): Uint8Array {
  const { width, height, samplesPerRow } = config;
  const frame = background.slice();
  const color = NAMED_RGB[scene.color];
  const { x0, y0, w, h, alpha } = shapeCoverage(scene.shape, state, width, height, samplesPerRow);
  for (let row = 0; row < h; row++) {
    for (let col = 0; col < w; col++) {
      const a = Math.min(1, alpha[row * w + col]);
      if (a <= 0) continue;
      const at = 3 * ((y0 + row) * width + x0 + col);
      for (let c = 0; c < 3; c++) frame[at + c] = Math.round(frame[at + c] + a * (color[c] - frame[at + c]));
    }
  }
  return frame;
}

/** Frames of one scene, one per state, rendered as they are pulled (the background is drawn once). */
export function* sceneFrames(scene: SceneLabel, states: Iterable<ObjectState>, config: WorldConfig): Generator<Uint8Array> {
  const background = renderBackground(scene.background, config.width, config.height);
  for (const state of states) yield renderFrame(background, scene, state, config);
}
