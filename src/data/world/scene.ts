// Drawing what a sample shows: which object, on which background, doing what. Every choice is uniform
// over what the config allows, under two rules: the background color is never the object's color, and a
// rotation is never given to a circle (it would look still).

import type { Rng } from "../../tensor/rng.js";
import type { ActionName } from "./actions.js";
import { sampleBackground } from "./background.js";
import type { WorldConfig } from "./config.js";
import type { SceneLabel } from "./labels.js";
import type { ShapeName } from "./shapes.js";

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng.uniform() * items.length)];
}

/** The items in a seeded random order (Fisher-Yates). */
export function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export function isRotation(name: ActionName): boolean {
  return name === "rotate-clockwise" || name === "rotate-counterclockwise";
}

/** The allowed actions that some allowed shape can perform (validation guarantees at least one). */
function performableActions(config: WorldConfig): ActionName[] {
  const anyPolygon = config.shapes.some((s) => s !== "circle");
  return config.actions.filter((a) => anyPolygon || !isRotation(a));
}

export function sampleAction(rng: Rng, config: WorldConfig): ActionName {
  return pick(rng, performableActions(config));
}

/** A scene whose shape can perform `action` (any shape when undefined). */
export function sampleScene(rng: Rng, config: WorldConfig, action?: ActionName): SceneLabel {
  const shapes: ShapeName[] = action !== undefined && isRotation(action) ? config.shapes.filter((s) => s !== "circle") : config.shapes;
  const shape = pick(rng, shapes);
  const color = pick(rng, config.colors);
  const backgroundColor = pick(rng, config.backgroundColors.filter((b) => b !== color));
  const texture = pick(rng, config.textures);
  return { shape, color, background: sampleBackground(rng, backgroundColor, texture, config.width, config.height) };
}

/** Whether two scenes look the same apart from the object's position (a cut must change one of these). */
export function sameLook(a: SceneLabel, b: SceneLabel): boolean {
  return a.shape === b.shape && a.color === b.color && a.background.color === b.background.color && a.background.texture === b.background.texture;
}
