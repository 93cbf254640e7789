// A smooth random camera path over a still image (VIDRD.md section 4: image-text pairs become pseudo-videos
// "with a smooth random zoom and/or pan"). The camera is a crop box of the output's aspect ratio; the path
// is drawn once from a seeded Rng and every frame's box follows from it in closed form.
//
// Notation (image pixels, y down; a box is its top-left corner and its size):
//   F = (fw, fh)  the full box: the largest box of the output's aspect that fits the image
//   L = sL * F    the larger crop, sL drawn from `scale` (then capped so the motion fits, see below)
//   S = L / z     the smaller crop, z drawn from `zoom` (z = 1 for a pure pan)
//   o = (ox, oy)  the centre's travel: a pan moves p * S along each axis it moves on (p drawn from `pan`),
//                 in the pan's direction; a pure zoom heads for a random point, |o| <= (L - S) / 2 per axis
//   e(u)          the ease curve, u = k / (N - 1) for frame k of N: linear u, or the cubic smoothstep
//                 3u^2 - 2u^3 (starts and stops at rest; peak speed 1.5x the mean, |e''| <= 6)
// Zoom in (with or without a pan in direction d): frame k shows the box of side L * z^(-e) centred at
// c0 + e * o. Zoom out is zoom in towards -d played backwards, so both kinds have the same statistics.
//
// The side shrinks geometrically, so the zoom looks like a constant-speed dolly rather than one that
// accelerates as the crop gets small.
//
// Never leaving the image: the left edge c0 + e o - side(e) / 2 is a linear function minus a convex one
// (side(e) = L z^-e), hence concave in e, so its minimum over [0, 1] is at an end; the right edge
// c0 + e o + side(e) / 2 is convex, its maximum at an end. Both end boxes are drawn inside the image, so
// every box in between is. The ends fit when, per axis, W >= (Lw + Sw) / 2 + |ox| (the start and end boxes
// side by side, overlapping by the travel), i.e. sL * fw * ((1 + 1/z) / 2 + |dx| p / z) <= W; sL is capped
// to make that true, which is always possible (the factor is at most 1.5 for p <= 0.5).

import { portableExp, portableLog } from "../../tensor/portable-math.js";
import type { Rng } from "../../tensor/rng.js";
import { DIRECTIONS, type Direction } from "../world/actions.js";

export const PAN_DIRECTIONS = DIRECTIONS;
export type PanDirection = Direction;

/** What a path may do: zoom only, pan only, or both at once. */
export const CAMERA_MOTION_KINDS = ["zoom", "pan", "zoom-pan"] as const;
export type CameraMotionKind = (typeof CAMERA_MOTION_KINDS)[number];

export const EASE_CURVES = ["linear", "ease-in-out"] as const;
export type EaseCurve = (typeof EASE_CURVES)[number];

export interface CameraMotion {
  zoom: "in" | "out" | null;
  /** The direction the camera (the crop box) moves; the picture's content moves the other way. */
  pan: PanDirection | null;
}

export interface CameraPathOptions {
  /** Kinds drawn uniformly; then zoom in / out and the pan direction uniformly. Default: all three. */
  kinds: CameraMotionKind[];
  /** z: the larger crop's side over the smaller's across the clip, > 1; default [1.15, 1.5]. */
  zoom: [number, number];
  /** p: the centre's travel per panning axis, as a fraction of the smaller crop's side; default [0.15, 0.4]. */
  pan: [number, number];
  /** sL: the larger crop's side as a fraction of the full box (largest crop of the output aspect); default [0.75, 1]. */
  scale: [number, number];
  /** Default "ease-in-out". */
  ease: EaseCurve;
}

export const DEFAULT_CAMERA_PATH_OPTIONS: Readonly<CameraPathOptions> = Object.freeze({
  kinds: [...CAMERA_MOTION_KINDS],
  zoom: [1.15, 1.5],
  pan: [0.15, 0.4],
  scale: [0.75, 1],
  ease: "ease-in-out",
} satisfies CameraPathOptions);

export class CameraPathError extends Error {
  override name = "CameraPathError";
}

/** A crop in image pixels (fractional): top-left corner and size. */
export interface CropBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface CameraPath {
  motion: CameraMotion;
  /** One box per frame. */
  boxes: CropBox[];
  /** The drawn z and p (z = 1 without a zoom, p = 0 without a pan). */
  zoom: number;
  pan: number;
  ease: EaseCurve;
}

function rangeOption(raw: Record<string, unknown>, key: "zoom" | "pan" | "scale", lo: number, hi: number, openLow: boolean): [number, number] {
  const v = raw[key] ?? DEFAULT_CAMERA_PATH_OPTIONS[key];
  const ok = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x) && (openLow ? x > lo : x >= lo) && x <= hi;
  if (!Array.isArray(v) || v.length !== 2 || !ok(v[0]) || !ok(v[1]) || v[0] > v[1]) {
    throw new CameraPathError(`camera.${key} is ${JSON.stringify(v)}; allowed: [min, max] with ${lo} ${openLow ? "<" : "<="} min <= max <= ${hi}`);
  }
  return [v[0], v[1]];
}

/** Validates camera options (from code, flags or JSON) and fills in the defaults; errors name the field. */
export function resolveCameraPathOptions(input: Partial<CameraPathOptions> | unknown = {}): CameraPathOptions {
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw new CameraPathError(`camera options are ${JSON.stringify(input)}; allowed: an object`);
  const raw = input as Record<string, unknown>;
  const known = Object.keys(DEFAULT_CAMERA_PATH_OPTIONS);
  for (const k of Object.keys(raw)) if (!known.includes(k)) throw new CameraPathError(`camera.${k} is not a known field; known: ${known.join(", ")}`);
  const kinds = raw.kinds ?? DEFAULT_CAMERA_PATH_OPTIONS.kinds;
  if (!Array.isArray(kinds) || kinds.length === 0 || !kinds.every((k) => (CAMERA_MOTION_KINDS as readonly unknown[]).includes(k)) || new Set(kinds).size !== kinds.length) {
    throw new CameraPathError(`camera.kinds is ${JSON.stringify(kinds)}; allowed: a non-empty list without repeats of ${CAMERA_MOTION_KINDS.join(", ")}`);
  }
  const ease = raw.ease ?? DEFAULT_CAMERA_PATH_OPTIONS.ease;
  if (!(EASE_CURVES as readonly unknown[]).includes(ease)) throw new CameraPathError(`camera.ease is ${JSON.stringify(ease)}; allowed: ${EASE_CURVES.join(", ")}`);
  return {
    kinds: [...(kinds as CameraMotionKind[])],
    // 4: beyond that a 16-frame zoom changes the side by ~9% a frame, a jump rather than a move
    zoom: rangeOption(raw, "zoom", 1, 4, true),
    // 0.5 keeps the ends' constraint factor (1 + 1/z) / 2 + p / z at most 1.5 (see the header)
    pan: rangeOption(raw, "pan", 0, 0.5, true),
    scale: rangeOption(raw, "scale", 0.1, 1, false),
    ease: ease as EaseCurve,
  };
}

export function easeAt(curve: EaseCurve, u: number): number {
  return curve === "linear" ? u : u * u * (3 - 2 * u);
}

/** "camera zooms in", "camera pans up and to the left", "camera zooms out and pans right". */
export function motionPhrase(motion: CameraMotion): string {
  const parts: string[] = [];
  if (motion.zoom !== null) parts.push(`zooms ${motion.zoom}`);
  if (motion.pan !== null) {
    const [a, b] = motion.pan.split("-");
    parts.push(b === undefined ? `pans ${a}` : `pans ${a} and to the ${b}`);
  }
  return `camera ${parts.join(" and ")}`;
}

/** The caption with the motion appended before any final punctuation: "a dog runs, camera pans left." */
export function captionWithMotion(caption: string, motion: CameraMotion): string {
  const trimmed = caption.trim();
  const end = /[.!?]+$/.exec(trimmed)?.[0] ?? "";
  return `${trimmed.slice(0, trimmed.length - end.length)}, ${motionPhrase(motion)}${end}`;
}

function uniformIn(rng: Rng, [lo, hi]: readonly [number, number]): number {
  return lo + (hi - lo) * rng.uniform();
}

function pick<T>(rng: Rng, list: readonly T[]): T {
  return list[Math.min(list.length - 1, Math.floor(rng.uniform() * list.length))];
}

const OPPOSITE: Record<PanDirection, PanDirection> = {
  left: "right", right: "left", up: "down", down: "up",
  "up-left": "down-right", "down-right": "up-left", "up-right": "down-left", "down-left": "up-right",
};

/** Signs of a direction's steps along x and y. */
function directionSigns(d: PanDirection | null): [number, number] {
  if (d === null) return [0, 0];
  return [d.includes("left") ? -1 : d.includes("right") ? 1 : 0, d.includes("up") ? -1 : d.includes("down") ? 1 : 0];
}

/** Start centre drawn uniformly so both the larger box (at the start) and the smaller (at c0 + o) fit. */
function startCentre(rng: Rng, extent: number, large: number, small: number, travel: number): number {
  const lo = Math.max(large / 2, small / 2 - travel);
  const hi = Math.min(extent - large / 2, extent - small / 2 - travel);
  // lo <= hi by the cap on sL; rounding can make them cross by an ulp
  return hi <= lo ? (lo + hi) / 2 : lo + (hi - lo) * rng.uniform();
}

/** The motion of a path: a kind, then zoom in / out and a pan direction, uniformly among those allowed. */
export function drawCameraMotion(rng: Rng, options: CameraPathOptions = DEFAULT_CAMERA_PATH_OPTIONS): CameraMotion {
  const kind = pick(rng, options.kinds);
  return { zoom: kind === "pan" ? null : pick(rng, ["in", "out"] as const), pan: kind === "zoom" ? null : pick(rng, PAN_DIRECTIONS) };
}

/**
 * Draws a camera path of `frames` frames over an image of `imageWidth` x `imageHeight` for an output of
 * aspect `outputAspect` (width / height). The motion comes from rng.fork(0) (drawCameraMotion) and the
 * geometry from rng.fork(1), so a caller can know the motion, for a caption, before it has the image.
 */
export function sampleCameraPath(rng: Rng, imageWidth: number, imageHeight: number, outputAspect: number, frames: number, options: CameraPathOptions = DEFAULT_CAMERA_PATH_OPTIONS): CameraPath {
  if (!Number.isInteger(frames) || frames < 1) throw new CameraPathError(`frames is ${frames}; allowed: an integer >= 1`);
  if (!(imageWidth > 0 && imageHeight > 0 && outputAspect > 0)) throw new CameraPathError(`image ${imageWidth}x${imageHeight}, aspect ${outputAspect}: allowed: positive sizes`);
  const { zoom: zoomKind, pan } = drawCameraMotion(rng.fork(0), options);
  const geometry = rng.fork(1);
  const z = zoomKind === null ? 1 : uniformIn(geometry, options.zoom);
  const p = pan === null ? 0 : uniformIn(geometry, options.pan);
  // a zoom out is a zoom in towards the opposite direction, reversed
  const [dx, dy] = directionSigns(zoomKind === "out" && pan !== null ? OPPOSITE[pan] : pan);
  const fw = Math.min(imageWidth, imageHeight * outputAspect);
  const fh = fw / outputAspect;
  const need = (d: number): number => (1 + 1 / z) / 2 + (Math.abs(d) * p) / z;
  const sLimit = Math.min(imageWidth / (fw * need(dx)), imageHeight / (fh * need(dy)));
  const sL = Math.min(uniformIn(geometry, options.scale), sLimit);
  const large = [sL * fw, sL * fh];
  const small = [large[0] / z, large[1] / z];
  const travel = [0, 1].map((axis) => {
    const d = axis === 0 ? dx : dy;
    if (pan !== null) return d * p * small[axis];
    const slack = (large[axis] - small[axis]) / 2; // a pure zoom heads anywhere inside the larger box
    return slack * (2 * geometry.uniform() - 1);
  });
  const c0 = [
    startCentre(geometry, imageWidth, large[0], small[0], travel[0]),
    startCentre(geometry, imageHeight, large[1], small[1], travel[1]),
  ];
  const logZoom = portableLog(z);
  const boxes: CropBox[] = [];
  for (let k = 0; k < frames; k++) {
    const e = easeAt(options.ease, frames === 1 ? 0 : k / (frames - 1));
    const shrink = portableExp(-e * logZoom); // z^-e, the same bits on every engine
    const w = large[0] * shrink;
    const h = large[1] * shrink;
    const cx = c0[0] + e * travel[0];
    const cy = c0[1] + e * travel[1];
    boxes.push({ x: cx - w / 2, y: cy - h / 2, width: w, height: h });
  }
  if (zoomKind === "out") boxes.reverse();
  return { motion: { zoom: zoomKind, pan }, boxes, zoom: z, pan: p, ease: options.ease };
}
