import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../../../src/tensor/rng.js";
import { sinCosDegrees } from "../../../src/data/world/portable-trig.js";
import { NAMED_RGB, BACKGROUND_COLOR_NAMES, SHAPE_NAMES, UNIT_SHAPE_AREA, polygonVertices, shapeCoverage, type ObjectState } from "../../../src/data/world/index.js";

test("sinCosDegrees agrees with Math.sin / Math.cos to ~1 ulp at any angle, and is exact at multiples of 90", () => {
  const rng = new Rng(11);
  for (let k = 0; k < 2000; k++) {
    const deg = (rng.uniform() - 0.5) * 4000;
    const [s, c] = sinCosDegrees(deg);
    const rad = (deg * Math.PI) / 180;
    assert.ok(Math.abs(s - Math.sin(rad)) < 4e-15 * (1 + Math.abs(deg) / 360), `sin ${deg}`);
    assert.ok(Math.abs(c - Math.cos(rad)) < 4e-15 * (1 + Math.abs(deg) / 360), `cos ${deg}`);
  }
  assert.deepEqual(sinCosDegrees(0), [0, 1]);
  assert.deepEqual(sinCosDegrees(90), [1, -0]);
  assert.deepEqual(sinCosDegrees(-90), [-1, 0]);
  assert.deepEqual(sinCosDegrees(180), [-0, -1]);
  assert.throws(() => sinCosDegrees(Infinity), /angle Infinity is not allowed/);
});

test("named colors are at least 100 apart in RGB", () => {
  for (const a of BACKGROUND_COLOR_NAMES) {
    for (const b of BACKGROUND_COLOR_NAMES) {
      if (a === b) continue;
      const d = Math.hypot(...[0, 1, 2].map((c) => NAMED_RGB[a][c] - NAMED_RGB[b][c]));
      assert.ok(d >= 100, `${a} - ${b}: ${d}`);
    }
  }
});

test("polygon outlines: square axis-aligned at angle 0, triangle and star apex up, angles turn clockwise on screen", () => {
  const at = (v: Float64Array, k: number) => [v[2 * k], v[2 * k + 1]].map((x) => Math.round(x * 1e9) / 1e9);
  const s: ObjectState = { cx: 10, cy: 20, size: Math.SQRT2, angle: 0 };
  assert.deepEqual(at(polygonVertices("square", s), 0), [11, 21]);
  assert.deepEqual(at(polygonVertices("triangle", { ...s, size: 2 }), 0), [10, 18]);
  assert.deepEqual(at(polygonVertices("star", { ...s, size: 2 }), 0), [10, 18]);
  assert.deepEqual(at(polygonVertices("star", { ...s, size: 2 }), 5), [10, 21]); // the inner vertex below, at half the radius
  // +90 degrees (clockwise): the apex moves from up to right
  assert.deepEqual(at(polygonVertices("triangle", { ...s, size: 2, angle: 90 }), 0), [12, 20]);
});

test("rasterised coverage sums to the shape's exact area, lies in [0, 1] and is clipped at the frame", () => {
  const rng = new Rng(5);
  for (const shape of SHAPE_NAMES) {
    for (const samplesPerRow of [4, 16, 64]) {
      let worst = 0;
      for (let k = 0; k < 40; k++) {
        const size = 5 + 15 * rng.uniform();
        const state = { cx: 30 + rng.uniform(), cy: 30 + rng.uniform(), size, angle: 360 * rng.uniform() };
        const { alpha } = shapeCoverage(shape, state, 64, 64, samplesPerRow);
        let sum = 0;
        for (const a of alpha) {
          assert.ok(a >= 0 && a <= 1 + 1e-9, `coverage ${a}`);
          sum += a;
        }
        // x is integrated exactly; y is sampled at samplesPerRow points per pixel, which misplaces a
        // horizontal edge by up to 1 / (2 samplesPerRow): the error is at most the outline's length (< 7
        // size for every shape) over 2 samplesPerRow
        const error = Math.abs(sum - UNIT_SHAPE_AREA[shape] * size * size);
        worst = Math.max(worst, error / ((7 * size) / (2 * samplesPerRow)));
      }
      assert.ok(worst <= 1, `${shape} at ${samplesPerRow} sub-scanlines: area error ${worst} of the bound`);
    }
  }
  // half a circle outside the left edge: the window starts at 0 and holds about half the area
  const clipped = shapeCoverage("circle", { cx: 0, cy: 32, size: 10, angle: 0 }, 64, 64, 16);
  assert.equal(clipped.x0, 0);
  const sum = clipped.alpha.reduce((s, a) => s + a, 0);
  assert.ok(Math.abs(sum - (Math.PI * 100) / 2) < 0.05, `clipped area ${sum}`);
});

test("a square turned by its symmetry (90 degrees) covers the same pixels", () => {
  const state = { cx: 31.3, cy: 28.7, size: 11, angle: 17 };
  const a = shapeCoverage("square", state, 64, 64, 4).alpha;
  const b = shapeCoverage("square", { ...state, angle: 107 }, 64, 64, 4).alpha;
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-9);
});
