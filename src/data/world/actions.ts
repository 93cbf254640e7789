// What an object does during a clip or a segment: one action, a pure function from (start state, frame
// index t) to the object's state. Frame t = 0 shows the start state; a segment of n frames shows t = 0..n-1,
// and the state at t = n is where the next segment of the same scene picks up, so consecutive actions
// continue without a repeated frame.
//
//   move     centre += speed * t * (unit direction); diagonals move speed / sqrt 2 along each axis
//   grow     size = size0 * rate^t, rate > 1          shrink   the same with rate < 1
//   rotate   angle = angle0 +- speed * t (degrees, + is clockwise on screen; never wrapped)
//   bounce   a ball dropped from rest at the start centre onto a floor `height` pixels lower, bouncing
//            back elastically: ballistic arcs of `period` frames each, apex at t = 0, period, 2 period, ...
//            and floor contact at t = period / 2 + k period. y = cy0 + height * (1 - 4 s (1 - s)),
//            s = frac(t / period + 1/2).
//
// Only + - * / go into the states (rate^t by repeated squaring), so labels are the same bits everywhere.

import type { ObjectState } from "./shapes.js";

export const DIRECTIONS = ["left", "right", "up", "down", "up-left", "up-right", "down-left", "down-right"] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** Unit steps in image coordinates (y down), so "up" is (0, -1). */
export const DIRECTION_VECTORS: Readonly<Record<Direction, readonly [number, number]>> = {
  left: [-1, 0],
  right: [1, 0],
  up: [0, -1],
  down: [0, 1],
  "up-left": [-Math.SQRT1_2, -Math.SQRT1_2],
  "up-right": [Math.SQRT1_2, -Math.SQRT1_2],
  "down-left": [-Math.SQRT1_2, Math.SQRT1_2],
  "down-right": [Math.SQRT1_2, Math.SQRT1_2],
};

export const VERBS = ["move", "grow", "shrink", "rotate", "bounce"] as const;
export type Verb = (typeof VERBS)[number];

export type Rotation = "clockwise" | "counterclockwise";

export const ACTION_NAMES = [
  ...DIRECTIONS.map((d) => `move-${d}` as const),
  "grow",
  "shrink",
  "rotate-clockwise",
  "rotate-counterclockwise",
  "bounce",
] as const;
export type ActionName = (typeof ACTION_NAMES)[number];

export type ActionSpec =
  /** speed: pixels per frame along the path */
  | { verb: "move"; direction: Direction; speed: number }
  /** rate: size ratio per frame, > 1 */
  | { verb: "grow"; rate: number }
  /** rate: size ratio per frame, in (0, 1) */
  | { verb: "shrink"; rate: number }
  /** speed: degrees per frame, > 0 */
  | { verb: "rotate"; rotation: Rotation; speed: number }
  /** height: drop from the start centre to the floor contact, pixels; period: frames per arc */
  | { verb: "bounce"; height: number; period: number };

export function actionName(action: ActionSpec): ActionName {
  switch (action.verb) {
    case "move":
      return `move-${action.direction}`;
    case "rotate":
      return `rotate-${action.rotation}`;
    default:
      return action.verb;
  }
}

/** The net direction the action moves the object in, "none" for actions that keep or return it. */
export function motionDirection(action: ActionSpec): Direction | "none" {
  return action.verb === "move" ? action.direction : "none";
}

/** x^t for an integer t >= 0 by repeated squaring (exactly rounded products, unlike Math.pow). */
export function powInt(x: number, t: number): number {
  let result = 1;
  let base = x;
  for (let e = t; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) result *= base;
    base *= base;
  }
  return result;
}

/** Height of a bounce arc above the floor, as a fraction of the drop height, at frame t (1 at the apex). */
export function bounceLift(t: number, period: number): number {
  const phase = t / period + 0.5;
  const s = phase - Math.floor(phase);
  return 4 * s * (1 - s);
}

/** The object's state t frames into `action` (t an integer >= 0). */
export function stateAt(action: ActionSpec, start: ObjectState, t: number): ObjectState {
  switch (action.verb) {
    case "move": {
      const [ux, uy] = DIRECTION_VECTORS[action.direction];
      const d = action.speed * t;
      return { ...start, cx: start.cx + d * ux, cy: start.cy + d * uy };
    }
    case "grow":
    case "shrink":
      return { ...start, size: start.size * powInt(action.rate, t) };
    case "rotate":
      return { ...start, angle: start.angle + (action.rotation === "clockwise" ? 1 : -1) * action.speed * t };
    case "bounce":
      return { ...start, cy: start.cy + action.height * (1 - bounceLift(t, action.period)) };
  }
}
