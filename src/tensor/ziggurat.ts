// Tables of the ziggurat method for standard normals (Marsaglia & Tsang, "The Ziggurat Method for
// Generating Random Variables", J. Stat. Software 5(8), 2000), with 256 layers.
//
// Notation (f is the unnormalised density; only ratios of areas matter):
//   f(x) = exp(-x^2 / 2)
//   N = 256 layers of equal area v, numbered 0 (bottom) to N - 1 (top)
//   r = x[1], the right edge where the tail starts; x[0] = v / f(r) is the width of the bottom layer if
//       its area v (the box [0, r] x [0, f(r)] plus the tail beyond r) were a box
//   x[k+1] = f^-1(f(x[k]) + v / x[k])     each layer k >= 1 is the box [0, x[k]] x [f(x[k]), f(x[k+1])]
//   x[N] = 0, and r is chosen so the top layer closes: x[N-1] (1 - f(x[N-1])) = v
//   v = r f(r) + integral_r^inf f(t) dt
//
// A draw picks a layer i and a point u x[i] with u uniform in [0, 1). Points under x[i+1] lie under the
// curve in every layer (accept at once: 98.5% of draws); the rest fall in the tail (layer 0) or in a
// wedge, which needs one exp and a second uniform. The tables are computed here, at load, with portable
// exp/log, so they are the same bits on every engine.

import { pow2, portableExp, portableLog } from "./portable-math.js";

export const LAYERS = 256;

export interface ZigguratTables {
  /** Start of the tail, x[1]. */
  r: number;
  /** Area of each layer under the unnormalised density. */
  v: number;
  /** Layer right edges x[0..N], N + 1 entries, x[N] = 0. */
  x: Float64Array;
  /** f(x[k]) for k = 0..N, f(x[N]) = 1. */
  f: Float64Array;
  /** x[i] 2^-32: a 32-bit magnitude j maps to the point j * scale[i] in layer i. */
  scale: Float64Array;
  /** Fast acceptance: j * scale[i] < x[i+1] exactly when j < accept[i] = ceil(x[i+1] / x[i] 2^32). */
  accept: Uint32Array;
}

const density = (x: number): number => portableExp(-0.5 * x * x);

/**
 * integral_r^inf exp(-t^2/2) dt = f(r) M(r), with Mills' ratio as the continued fraction
 * M(r) = 1/(r + 1/(r + 2/(r + 3/(r + ...)))), evaluated from the bottom; for r > 3 it has converged to
 * double precision long before 200 terms.
 */
export function normalTailArea(r: number): number {
  let t = r;
  for (let k = 200; k >= 1; k--) t = r + k / t;
  return density(r) / t;
}

/** Layer edges for a trial r; undefined when the layers reach the top before layer N - 1 (r too small). */
function layerEdges(r: number): { x: Float64Array; v: number; closure: number } | undefined {
  const fr = density(r);
  const v = r * fr + normalTailArea(r);
  const x = new Float64Array(LAYERS + 1);
  x[0] = v / fr;
  x[1] = r;
  for (let k = 1; k < LAYERS - 1; k++) {
    const top = density(x[k]) + v / x[k];
    if (top >= 1) return undefined;
    x[k + 1] = Math.sqrt(-2 * portableLog(top));
  }
  x[LAYERS] = 0;
  const last = x[LAYERS - 1];
  return { x, v, closure: last * (1 - density(last)) - v };
}

function computeTables(): ZigguratTables {
  // closure(r) grows with r; bisect to the smallest r whose layers all fit
  let lo = 3;
  let hi = 4;
  for (let it = 0; it < 200; it++) {
    const mid = (lo + hi) / 2;
    if (mid === lo || mid === hi) break;
    const edges = layerEdges(mid);
    if (edges === undefined || edges.closure < 0) lo = mid;
    else hi = mid;
  }
  const { x, v } = layerEdges(hi)!;
  const f = new Float64Array(LAYERS + 1);
  for (let k = 0; k <= LAYERS; k++) f[k] = density(x[k]);
  const scale = new Float64Array(LAYERS);
  const accept = new Uint32Array(LAYERS);
  for (let i = 0; i < LAYERS; i++) {
    scale[i] = x[i] * pow2(-32);
    accept[i] = Math.ceil((x[i + 1] / x[i]) * pow2(32));
  }
  return { r: hi, v, x, f, scale, accept };
}

export const ZIGGURAT: ZigguratTables = computeTables();

/**
 * The slow part of one draw: layer i with 32-bit magnitude j was not under x[i+1]. Returns the sample's
 * magnitude, or -1 to ask for a fresh draw (a wedge rejection). `uniform` gives values in [0, 1).
 */
export function zigguratSlowPath(i: number, j: number, uniform: () => number): number {
  const z = ZIGGURAT;
  if (i === 0) {
    // tail beyond r (Marsaglia 1964): x = -ln(u1)/r, y = -ln(u2), accept when 2y > x^2; r + x then has
    // the normal tail's density. 1 - uniform() lies in (0, 1], so the logs are finite.
    for (;;) {
      const x = -portableLog(1 - uniform()) / z.r;
      const y = -portableLog(1 - uniform());
      if (y + y > x * x) return z.r + x;
    }
  }
  const x = j * z.scale[i];
  const y = z.f[i] + uniform() * (z.f[i + 1] - z.f[i]);
  return y < density(x) ? x : -1;
}
