// Choosing an action's parameters and the object's start so that the whole action stays inside the frame
// (the circumcircle at least FRAME_MARGIN pixels from every edge, at every frame t = 0..n, n included: the
// state at t = n is where a continuing segment starts) and inside the configured size range.
//
// A fresh object (a clip, a still, the first segment of a scene) may be placed anywhere, so the ranges are
// cut to what fits and the start drawn last:
//   move    size, then speed <= free span / n along each axis it moves on, then a start that leaves room
//           for the whole path
//   grow    rate <= (size max / size min)^(1/n), size0 <= size max / rate^n, centre fitting the end size
//   shrink  rate likewise, size0 >= size min * rate^n
//   rotate  any size and centre; never a circle (a rotating circle looks still)
//   bounce  size leaving room for the minimum drop; drop height <= room; period <= 2 (n - 3), so the floor
//           contact and two frames of rise fall inside the clip; start centre = floor - height
// A continuing object keeps its state, so an action is possible only when a range stays non-empty (e.g.
// "move left" needs room on the left for n * min speed); the caller then picks another or cuts the scene.

import { portableExp, portableLog } from "../../tensor/portable-math.js";
import type { Rng } from "../../tensor/rng.js";
import { DIRECTION_VECTORS, powInt, type ActionName, type ActionSpec, type Direction } from "./actions.js";
import { FRAME_MARGIN, type Range, type WorldConfig } from "./config.js";
import type { ObjectState, ShapeName } from "./shapes.js";

export interface Placement {
  action: ActionSpec;
  start: ObjectState;
}

function uniformIn(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.uniform();
}

/** x^(1/n), engine-independent. */
function root(x: number, n: number): number {
  return portableExp(portableLog(x) / n);
}

/** Pixel-unit bounds of a world config for frames of n transitions (t = 0..n). */
interface Limits {
  W: number;
  H: number;
  n: number;
  size: Range;
  speed: Range;
  height: Range;
}

function limits(config: WorldConfig, n: number): Limits {
  const m = Math.min(config.width, config.height);
  return {
    W: config.width,
    H: config.height,
    n,
    size: [config.size[0] * m, config.size[1] * m],
    speed: [config.moveSpeed[0] * m, config.moveSpeed[1] * m],
    height: [config.bounceHeight[0] * config.height, config.bounceHeight[1] * config.height],
  };
}

/** A centre for an object of circumradius r, uniform over the frame minus the margins. */
function centreFor(rng: Rng, L: Limits, r: number): [number, number] {
  return [uniformIn(rng, FRAME_MARGIN + r, L.W - FRAME_MARGIN - r), uniformIn(rng, FRAME_MARGIN + r, L.H - FRAME_MARGIN - r)];
}

/** The longest path (pixels) from `state` along unit step (ux, uy) before the circumcircle reaches a margin. */
function roomAlong(L: Limits, state: ObjectState, ux: number, uy: number): number {
  const r = state.size;
  let room = Infinity;
  if (ux < 0) room = Math.min(room, (state.cx - FRAME_MARGIN - r) / -ux);
  if (ux > 0) room = Math.min(room, (L.W - FRAME_MARGIN - r - state.cx) / ux);
  if (uy < 0) room = Math.min(room, (state.cy - FRAME_MARGIN - r) / -uy);
  if (uy > 0) room = Math.min(room, (L.H - FRAME_MARGIN - r - state.cy) / uy);
  return Math.max(0, room);
}

/** The largest circumradius a circle centred at (cx, cy) can have inside the margins. */
function roomAround(L: Limits, cx: number, cy: number): number {
  return Math.min(cx - FRAME_MARGIN, L.W - FRAME_MARGIN - cx, cy - FRAME_MARGIN, L.H - FRAME_MARGIN - cy);
}

/** Integer draws below are uniform on the inclusive [lo, hi]. */
export function intIn(rng: Rng, [lo, hi]: Range): number {
  return lo + Math.floor(rng.uniform() * (hi - lo + 1));
}

function freshMove(rng: Rng, L: Limits, direction: Direction, angle: number): Placement {
  const [ux, uy] = DIRECTION_VECTORS[direction];
  const n = L.n;
  // the largest size whose free span still holds n steps at the minimum speed, on each moving axis
  let rHi = L.size[1];
  if (ux !== 0) rHi = Math.min(rHi, (L.W - 2 * FRAME_MARGIN - n * L.speed[0] * Math.abs(ux)) / 2);
  if (uy !== 0) rHi = Math.min(rHi, (L.H - 2 * FRAME_MARGIN - n * L.speed[0] * Math.abs(uy)) / 2);
  const r = uniformIn(rng, L.size[0], rHi);
  let sHi = L.speed[1];
  if (ux !== 0) sHi = Math.min(sHi, (L.W - 2 * (FRAME_MARGIN + r)) / (n * Math.abs(ux)));
  if (uy !== 0) sHi = Math.min(sHi, (L.H - 2 * (FRAME_MARGIN + r)) / (n * Math.abs(uy)));
  const speed = uniformIn(rng, L.speed[0], sHi);
  const dx = n * speed * ux;
  const dy = n * speed * uy;
  const cx = uniformIn(rng, FRAME_MARGIN + r - Math.min(0, dx), L.W - FRAME_MARGIN - r - Math.max(0, dx));
  const cy = uniformIn(rng, FRAME_MARGIN + r - Math.min(0, dy), L.H - FRAME_MARGIN - r - Math.max(0, dy));
  return { action: { verb: "move", direction, speed }, start: { cx, cy, size: r, angle } };
}

function freshScale(rng: Rng, L: Limits, config: WorldConfig, grow: boolean, angle: number): Placement {
  const g = uniformIn(rng, config.growthRate[0], Math.min(config.growthRate[1], root(L.size[1] / L.size[0], L.n)));
  const rate = grow ? g : 1 / g;
  const factor = powInt(rate, L.n);
  // the size range bounds both ends: [size min, size max / factor] for grow, [size min / factor, size max] for shrink
  const r0 = grow ? uniformIn(rng, L.size[0], L.size[1] / factor) : uniformIn(rng, L.size[0] / factor, L.size[1]);
  const [cx, cy] = centreFor(rng, L, Math.max(r0, r0 * factor));
  return { action: { verb: grow ? "grow" : "shrink", rate }, start: { cx, cy, size: r0, angle } };
}

function freshBounce(rng: Rng, L: Limits, config: WorldConfig, angle: number): Placement {
  const r = uniformIn(rng, L.size[0], Math.min(L.size[1], (L.H - 2 * FRAME_MARGIN - L.height[0]) / 2));
  const height = uniformIn(rng, L.height[0], Math.min(L.height[1], L.H - 2 * (FRAME_MARGIN + r)));
  const period = uniformIn(rng, config.bouncePeriod[0], Math.min(config.bouncePeriod[1], 2 * (L.n - 3)));
  const cx = uniformIn(rng, FRAME_MARGIN + r, L.W - FRAME_MARGIN - r);
  return { action: { verb: "bounce", height, period }, start: { cx, cy: L.H - FRAME_MARGIN - r - height, size: r, angle } };
}

/** Parameters and start state of action `name` for a new object shown for `frames` frames. */
export function placeFresh(rng: Rng, name: ActionName, shape: ShapeName, frames: number, config: WorldConfig): Placement {
  if (shape === "circle" && name.startsWith("rotate")) throw new Error(`placeFresh: ${name} is not allowed for a circle; allowed: square, triangle, star`);
  const L = limits(config, frames);
  const angle = uniformIn(rng, 0, 360);
  if (name.startsWith("move-")) return freshMove(rng, L, name.slice(5) as Direction, angle);
  if (name === "grow" || name === "shrink") return freshScale(rng, L, config, name === "grow", angle);
  if (name === "bounce") return freshBounce(rng, L, config, angle);
  const r = uniformIn(rng, L.size[0], L.size[1]);
  const [cx, cy] = centreFor(rng, L, r);
  const rotation = name === "rotate-clockwise" ? "clockwise" : "counterclockwise";
  return { action: { verb: "rotate", rotation, speed: uniformIn(rng, config.rotationSpeed[0], config.rotationSpeed[1]) }, start: { cx, cy, size: r, angle } };
}

/**
 * Parameters of action `name` continuing from `state` for `frames` frames, or undefined when no parameter
 * in the configured ranges keeps the object inside the frame and the size range.
 */
export function placeContinuing(rng: Rng, name: ActionName, shape: ShapeName, state: ObjectState, frames: number, config: WorldConfig): Placement | undefined {
  const L = limits(config, frames);
  const n = frames;
  const start = { ...state };
  if (name.startsWith("move-")) {
    const direction = name.slice(5) as Direction;
    const [ux, uy] = DIRECTION_VECTORS[direction];
    const sHi = Math.min(L.speed[1], roomAlong(L, state, ux, uy) / n);
    if (sHi < L.speed[0]) return undefined;
    return { action: { verb: "move", direction, speed: uniformIn(rng, L.speed[0], sHi) }, start };
  }
  if (name === "grow" || name === "shrink") {
    const grow = name === "grow";
    // the end size must stay within the size range and, when growing, inside the margins
    const limit = grow ? Math.min(L.size[1], roomAround(L, state.cx, state.cy)) / state.size : state.size / L.size[0];
    if (!(limit > 1)) return undefined;
    // a hair below the root, so that rate^n computed by powInt cannot overshoot the limit by rounding
    const gHi = Math.min(config.growthRate[1], root(limit, n) * (1 - 1e-12));
    if (gHi < config.growthRate[0]) return undefined;
    const g = uniformIn(rng, config.growthRate[0], gHi);
    return { action: { verb: grow ? "grow" : "shrink", rate: grow ? g : 1 / g }, start };
  }
  if (name === "bounce") {
    const height = L.H - FRAME_MARGIN - state.size - state.cy;
    if (height < L.height[0] || height > L.height[1]) return undefined;
    const period = uniformIn(rng, config.bouncePeriod[0], Math.min(config.bouncePeriod[1], 2 * (n - 3)));
    return { action: { verb: "bounce", height, period }, start };
  }
  if (shape === "circle") return undefined;
  const rotation = name === "rotate-clockwise" ? "clockwise" : "counterclockwise";
  return { action: { verb: "rotate", rotation, speed: uniformIn(rng, config.rotationSpeed[0], config.rotationSpeed[1]) }, start };
}

/** A still object: size, centre and angle uniform over what fits. */
export function placeStill(rng: Rng, config: WorldConfig): ObjectState {
  const L = limits(config, 0);
  const size = uniformIn(rng, L.size[0], L.size[1]);
  const [cx, cy] = centreFor(rng, L, size);
  return { cx, cy, size, angle: uniformIn(rng, 0, 360) };
}
