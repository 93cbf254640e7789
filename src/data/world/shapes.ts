// The world's shapes and their anti-aliased rasterisation.
//
// Every shape is defined by its circumradius `size`: it lies inside the circle of that radius around its
// centre at every angle, so "the object stays inside the frame" is one test on (centre, size) whatever the
// shape or rotation. Coordinates are pixels with x to the right and y down; pixel (i, j) covers
// [i, i+1) x [j, j+1), so its centre is (i + 0.5, j + 0.5). Angles are degrees, clockwise on screen
// (y points down, so the usual (cos a, sin a) turns clockwise as a grows).
//
//   circle    radius = size
//   square    corners at angle + 45 + 90k degrees: axis-aligned at angle 0, side size * sqrt 2
//   triangle  equilateral, vertices at angle - 90 + 120k: apex up at angle 0, side size * sqrt 3
//   star      5 points at angle - 90 + 72k (one point up at angle 0), inner vertices at STAR_INNER_RATIO *
//             size between them; 0.5 rather than the pentagram's 0.382 keeps the points a few pixels wide at
//             64 x 64, where a thinner star would dissolve into anti-aliasing
//
// Coverage: each pixel row is cut into `samplesPerRow` sub-scanlines; on each, the shape's inside is a set
// of exact x-intervals (circle chord, or polygon edge crossings), and a pixel receives the length of those
// intervals within it divided by samplesPerRow. That is supersampling in y and exact integration in x, at
// the cost of one span per sub-scanline rather than one test per 2-D sample: a pixel's coverage is off by
// at most 1 / (2 samplesPerRow) where a near-horizontal edge crosses it, and far less elsewhere.

import { sinCosDegrees } from "./portable-trig.js";

export const SHAPE_NAMES = ["circle", "square", "triangle", "star"] as const;
export type ShapeName = (typeof SHAPE_NAMES)[number];

export const STAR_INNER_RATIO = 0.5;

/** Where the object is in one frame: centre (px), circumradius (px) and clockwise angle (degrees). */
export interface ObjectState {
  cx: number;
  cy: number;
  size: number;
  angle: number;
}

/** Area of a shape of circumradius 1 (multiply by size^2): what a rasterised shape's coverage sums to. */
export const UNIT_SHAPE_AREA: Readonly<Record<ShapeName, number>> = {
  circle: Math.PI,
  square: 2,
  triangle: (3 * Math.sqrt(3)) / 4,
  // 10 triangles between consecutive outer and inner vertices, 36 degrees apart: 10 * (1/2) * 1 * r * sin 36
  star: 5 * STAR_INNER_RATIO * Math.sqrt((5 - Math.sqrt(5)) / 8),
};

/** Per-pixel coverage in [0, 1] over the window [x0, x0 + w) x [y0, y0 + h) of the frame. */
export interface Coverage {
  x0: number;
  y0: number;
  w: number;
  h: number;
  /** [h, w] row-major */
  alpha: Float64Array;
}

/** Outline vertices (x, y interleaved) of a polygonal shape, clockwise on screen. */
export function polygonVertices(shape: Exclude<ShapeName, "circle">, state: ObjectState): Float64Array {
  const { cx, cy, size, angle } = state;
  const star = shape === "star";
  const count = shape === "square" ? 4 : shape === "triangle" ? 3 : 10;
  const first = shape === "square" ? 45 : -90;
  const step = 360 / count;
  const v = new Float64Array(2 * count);
  for (let k = 0; k < count; k++) {
    const radius = star && k % 2 === 1 ? size * STAR_INNER_RATIO : size;
    const [s, c] = sinCosDegrees(angle + first + k * step);
    v[2 * k] = cx + radius * c;
    v[2 * k + 1] = cy + radius * s;
  }
  return v;
}

/** The x-intervals where sub-scanline y is inside a polygon (even-odd rule), as [a0, b0, a1, b1, ...]. */
function polygonSpans(v: Float64Array, y: number, out: number[]): void {
  out.length = 0;
  const n = v.length / 2;
  for (let k = 0; k < n; k++) {
    const x1 = v[2 * k];
    const y1 = v[2 * k + 1];
    const j = (k + 1) % n;
    const x2 = v[2 * j];
    const y2 = v[2 * j + 1];
    // half-open in y, so a vertex exactly on the scanline is counted once
    if (y1 <= y !== y2 <= y) out.push(x1 + ((y - y1) * (x2 - x1)) / (y2 - y1));
  }
  out.sort((a, b) => a - b);
}

/**
 * Anti-aliased coverage of `shape` at `state` inside a width x height frame (the part outside the frame
 * is clipped). samplesPerRow: sub-scanlines per pixel row, an integer >= 1.
 */
export function shapeCoverage(shape: ShapeName, state: ObjectState, width: number, height: number, samplesPerRow: number): Coverage {
  const { cx, cy, size } = state;
  const x0 = Math.max(0, Math.floor(cx - size));
  const x1 = Math.min(width, Math.ceil(cx + size));
  const y0 = Math.max(0, Math.floor(cy - size));
  const y1 = Math.min(height, Math.ceil(cy + size));
  const w = Math.max(0, x1 - x0);
  const h = Math.max(0, y1 - y0);
  const alpha = new Float64Array(w * h);
  const vertices = shape === "circle" ? null : polygonVertices(shape, state);
  const spans: number[] = [];
  const weight = 1 / samplesPerRow;
  for (let row = 0; row < h; row++) {
    const rowBase = row * w;
    for (let s = 0; s < samplesPerRow; s++) {
      const y = y0 + row + (s + 0.5) * weight;
      if (vertices === null) {
        const dy = y - cy;
        const d2 = size * size - dy * dy;
        spans.length = 0;
        if (d2 > 0) {
          const half = Math.sqrt(d2); // IEEE-exact, like + - * /
          spans.push(cx - half, cx + half);
        }
      } else {
        polygonSpans(vertices, y, spans);
      }
      for (let k = 0; k + 1 < spans.length; k += 2) {
        const a = Math.max(spans[k], x0);
        const b = Math.min(spans[k + 1], x1);
        if (b <= a) continue;
        const first = Math.floor(a);
        const last = Math.min(x1 - 1, Math.ceil(b) - 1);
        for (let px = first; px <= last; px++) {
          const overlap = Math.min(b, px + 1) - Math.max(a, px);
          if (overlap > 0) alpha[rowBase + px - x0] += overlap * weight;
        }
      }
    }
  }
  return { x0, y0, w, h, alpha };
}
