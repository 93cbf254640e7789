// The world's configuration: a plain typed object with documented defaults, validated once by
// resolveWorldConfig with messages that name the field, the value and what is allowed. Ranges are [min,
// max] and sampled uniformly; sizes and speeds are fractions of min(width, height) so that one config
// describes the same world at any resolution.

import { ACTION_NAMES, type ActionName } from "./actions.js";
import { TEXTURE_NAMES, type TextureName } from "./background.js";
import { BACKGROUND_COLOR_NAMES, OBJECT_COLOR_NAMES, type BackgroundColorName, type ColorName } from "./palette.js";
import { SHAPE_NAMES, type ShapeName } from "./shapes.js";

/** Pixels kept free between the object's circumcircle and every frame edge. */
export const FRAME_MARGIN = 1;

export type Range = [number, number];

export type CaptionBackground = "always" | "never" | "random";

export interface WorldConfig {
  /** Frame width and height in pixels, integers in [16, 4096]; default 64 x 64. */
  width: number;
  height: number;
  /** Anti-aliasing: sub-scanlines per pixel row, an integer in [1, 16]; default 4. */
  samplesPerRow: number;
  /** What a scene may contain; default: all of each. */
  shapes: ShapeName[];
  colors: ColorName[];
  backgroundColors: BackgroundColorName[];
  textures: TextureName[];
  actions: ActionName[];
  /** Object circumradius / min(width, height), at every frame of every action; default [0.1, 0.28]. */
  size: Range;
  /** move: pixels per frame / min(width, height); default [0.012, 0.03] (0.77 to 1.9 px at 64). */
  moveSpeed: Range;
  /** grow: size ratio per frame, > 1 (shrink uses the inverse); default [1.02, 1.05]. */
  growthRate: Range;
  /** rotate: degrees per frame, at most 30 (below half of the star's 72-degree symmetry); default [3, 12]. */
  rotationSpeed: Range;
  /** bounce: drop height / height; default [0.15, 0.45]. */
  bounceHeight: Range;
  /** bounce: frames per arc (apex to apex), at least 4; default [6, 12]. */
  bouncePeriod: Range;
  /** Frames of an action clip, an integer >= 8; default 16. */
  clipFrames: number;
  /** Frames per segment of a long video, integers >= 8; default [12, 24]. */
  segmentFrames: Range;
  /** Segments per long video, integers >= 1; default [3, 6]. */
  segments: Range;
  /** Chance that a segment after the first opens a new scene instead of continuing; default 0.3. */
  cutProbability: number;
  /** Whether clip and segment captions name the background; "random": a fair coin per caption. Default "random". */
  captionBackground: CaptionBackground;
}

export type WorldConfigInput = Partial<WorldConfig>;

export class WorldConfigError extends Error {
  override name = "WorldConfigError";
}

export const DEFAULT_WORLD_CONFIG: Readonly<WorldConfig> = Object.freeze({
  width: 64,
  height: 64,
  samplesPerRow: 4,
  shapes: [...SHAPE_NAMES],
  colors: [...OBJECT_COLOR_NAMES],
  backgroundColors: [...BACKGROUND_COLOR_NAMES],
  textures: [...TEXTURE_NAMES],
  actions: [...ACTION_NAMES],
  size: [0.1, 0.28],
  moveSpeed: [0.012, 0.03],
  growthRate: [1.02, 1.05],
  rotationSpeed: [3, 12],
  bounceHeight: [0.15, 0.45],
  bouncePeriod: [6, 12],
  clipFrames: 16,
  segmentFrames: [12, 24],
  segments: [3, 6],
  cutProbability: 0.3,
  captionBackground: "random",
} satisfies WorldConfig);
// its lists too, so that no caller can change the defaults of the next resolve
for (const value of Object.values(DEFAULT_WORLD_CONFIG)) if (Array.isArray(value)) Object.freeze(value);

type Obj = Record<string, unknown>;

function show(v: unknown): string {
  return typeof v === "string" || Array.isArray(v) || (typeof v === "object" && v !== null) ? JSON.stringify(v) : String(v);
}

function bad(field: string, value: unknown, allowed: string): never {
  throw new WorldConfigError(`config.${field} is ${show(value)}; allowed: ${allowed}`);
}

function integer(raw: Obj, key: keyof WorldConfig, min: number, max: number): number {
  const v = raw[key] ?? DEFAULT_WORLD_CONFIG[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) bad(key, v, `an integer in [${min}, ${max}]`);
  return v;
}

function range(raw: Obj, key: keyof WorldConfig, min: number, max: number, integers = false): Range {
  const v = raw[key] ?? DEFAULT_WORLD_CONFIG[key];
  const ok = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x) && x >= min && x <= max && (!integers || Number.isInteger(x));
  if (!Array.isArray(v) || v.length !== 2 || !ok(v[0]) || !ok(v[1]) || v[0] > v[1]) {
    bad(key, v, `[min, max] with ${integers ? "integers" : "numbers"} ${min} <= min <= max <= ${max}`);
  }
  return [v[0], v[1]];
}

function subset<T extends string>(raw: Obj, key: keyof WorldConfig, names: readonly T[]): T[] {
  const v = raw[key] ?? DEFAULT_WORLD_CONFIG[key];
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => names.includes(x as T)) || new Set(v).size !== v.length) {
    bad(key, v, `a non-empty list without repeats of ${names.join(", ")}`);
  }
  return [...(v as T[])];
}

/** Validates a world config (from code, flags or JSON) and fills in the defaults. */
export function resolveWorldConfig(input: WorldConfigInput | unknown = {}): WorldConfig {
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw new WorldConfigError(`config is ${show(input)}; allowed: an object`);
  const raw = input as Obj;
  const known = Object.keys(DEFAULT_WORLD_CONFIG);
  for (const k of Object.keys(raw)) {
    if (!known.includes(k)) throw new WorldConfigError(`config.${k} is not a known field; known: ${known.join(", ")}`);
  }
  const captionBackground = raw.captionBackground ?? DEFAULT_WORLD_CONFIG.captionBackground;
  if (captionBackground !== "always" && captionBackground !== "never" && captionBackground !== "random") {
    bad("captionBackground", captionBackground, "always, never, random");
  }
  const cutProbability = raw.cutProbability ?? DEFAULT_WORLD_CONFIG.cutProbability;
  if (typeof cutProbability !== "number" || !(cutProbability >= 0 && cutProbability <= 1)) bad("cutProbability", cutProbability, "a number in [0, 1]");
  const c: WorldConfig = {
    width: integer(raw, "width", 16, 4096),
    height: integer(raw, "height", 16, 4096),
    samplesPerRow: integer(raw, "samplesPerRow", 1, 16),
    shapes: subset(raw, "shapes", SHAPE_NAMES),
    colors: subset(raw, "colors", OBJECT_COLOR_NAMES),
    backgroundColors: subset(raw, "backgroundColors", BACKGROUND_COLOR_NAMES),
    textures: subset(raw, "textures", TEXTURE_NAMES),
    actions: subset(raw, "actions", ACTION_NAMES),
    size: range(raw, "size", 0.02, 0.45),
    moveSpeed: range(raw, "moveSpeed", 0.001, 0.25),
    growthRate: range(raw, "growthRate", 1.001, 1.5),
    rotationSpeed: range(raw, "rotationSpeed", 0.1, 30),
    bounceHeight: range(raw, "bounceHeight", 0.02, 0.9),
    bouncePeriod: range(raw, "bouncePeriod", 4, 1000),
    clipFrames: integer(raw, "clipFrames", 8, 100000),
    segmentFrames: range(raw, "segmentFrames", 8, 100000, true),
    segments: range(raw, "segments", 1, 100000, true),
    cutProbability,
    captionBackground,
  };
  checkFeasible(c);
  return c;
}

/**
 * Cross-field checks: every allowed action must be possible for a fresh object in the longest clip or
 * segment, so sampling never has to give up.
 */
function checkFeasible(c: WorldConfig): void {
  const m = Math.min(c.width, c.height);
  const rMin = c.size[0] * m;
  const rMax = c.size[1] * m;
  if (rMin < 2) bad("size", c.size, `a range whose minimum is at least 2 pixels (min(width, height) = ${m} gives ${rMin.toFixed(2)})`);
  if (2 * (rMax + FRAME_MARGIN) > m) bad("size", c.size, `a maximum of at most ${((m / 2 - FRAME_MARGIN) / m).toFixed(3)}, so the object fits the frame`);
  const longest = Math.max(c.clipFrames, c.segmentFrames[1]);
  const shortest = Math.min(c.clipFrames, c.segmentFrames[0]);
  const has = (verb: string): boolean => c.actions.some((a) => a.startsWith(verb));
  if (has("move") && longest * c.moveSpeed[0] * m > m - 2 * (rMin + FRAME_MARGIN)) {
    bad("moveSpeed", c.moveSpeed, `a minimum that crosses at most the free width in ${longest} frames (clipFrames / segmentFrames), i.e. <= ${((m - 2 * (rMin + FRAME_MARGIN)) / (longest * m)).toFixed(4)}`);
  }
  const growth = c.size[1] / c.size[0];
  if ((has("grow") || has("shrink")) && c.growthRate[0] ** longest > growth) {
    bad("growthRate", c.growthRate, `a minimum whose ${longest}th power (clipFrames / segmentFrames) is at most size max / size min = ${growth.toFixed(3)}`);
  }
  if (has("bounce")) {
    if (c.height - 2 * (rMin + FRAME_MARGIN) < c.bounceHeight[0] * c.height) {
      bad("bounceHeight", c.bounceHeight, `a minimum that fits below the smallest object: <= ${((c.height - 2 * (rMin + FRAME_MARGIN)) / c.height).toFixed(3)}`);
    }
    // the floor contact (t = period / 2) and two frames of rise must fall inside the shortest clip
    if (c.bouncePeriod[0] > 2 * (shortest - 3)) bad("bouncePeriod", c.bouncePeriod, `a minimum of at most ${2 * (shortest - 3)} for ${shortest}-frame clips or segments`);
  }
  if (c.actions.every((a) => a.startsWith("rotate")) && c.shapes.every((s) => s === "circle")) {
    bad("actions", c.actions, "an action other than rotate when shapes is only circle (a rotating circle looks still)");
  }
  for (const color of c.colors) {
    if (c.backgroundColors.every((b) => b === color)) bad("backgroundColors", c.backgroundColors, `a list with a color other than ${color}, which objects may have`);
  }
}
