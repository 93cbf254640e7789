// The camera path of a pseudo-video: never leaves the image, moves smoothly (bounded per-frame steps, no
// jumps), does what its motion says, and is a function of the seed.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CameraPathError,
  DEFAULT_CAMERA_PATH_OPTIONS,
  captionWithMotion,
  drawCameraMotion,
  motionPhrase,
  resolveCameraPathOptions,
  sampleCameraPath,
  type CameraPath,
  type CropBox,
} from "../../../src/data/compose/index.js";
import { Rng } from "../../../src/tensor/rng.js";

const centre = (b: CropBox): [number, number] => [b.x + b.width / 2, b.y + b.height / 2];

/** Largest per-frame step and second difference of the centre (pixels) and of log(width). */
function motionStats(path: CameraPath): { step: number; jerk: number; logStep: number; logJerk: number; travel: number; logTravel: number } {
  const c = path.boxes.map(centre);
  const l = path.boxes.map((b) => Math.log(b.width));
  let step = 0, jerk = 0, logStep = 0, logJerk = 0;
  for (let k = 1; k < c.length; k++) {
    step = Math.max(step, Math.hypot(c[k][0] - c[k - 1][0], c[k][1] - c[k - 1][1]));
    logStep = Math.max(logStep, Math.abs(l[k] - l[k - 1]));
    if (k >= 2) {
      jerk = Math.max(jerk, Math.hypot(c[k][0] - 2 * c[k - 1][0] + c[k - 2][0], c[k][1] - 2 * c[k - 1][1] + c[k - 2][1]));
      logJerk = Math.max(logJerk, Math.abs(l[k] - 2 * l[k - 1] + l[k - 2]));
    }
  }
  const n = c.length - 1;
  return { step, jerk, logStep, logJerk, travel: Math.hypot(c[n][0] - c[0][0], c[n][1] - c[0][1]), logTravel: Math.abs(l[n] - l[0]) };
}

test("over 2000 seeds and many image shapes the crop never leaves the image and keeps the output aspect", () => {
  const shapes: [number, number, number][] = [[64, 64, 1], [128, 128, 1], [640, 480, 1], [480, 640, 1], [1920, 1080, 1], [300, 900, 16 / 9], [1000, 200, 1], [64, 64, 0.5]];
  for (let seed = 0; seed < 2000; seed++) {
    const [W, H, aspect] = shapes[seed % shapes.length];
    const frames = 8 + (seed % 3) * 8;
    const path = sampleCameraPath(new Rng(seed), W, H, aspect, frames);
    assert.equal(path.boxes.length, frames);
    for (const [k, b] of path.boxes.entries()) {
      const eps = 1e-9 * Math.max(W, H);
      assert.ok(b.x >= -eps && b.y >= -eps && b.x + b.width <= W + eps && b.y + b.height <= H + eps, `seed ${seed} frame ${k}: ${JSON.stringify(b)} leaves ${W}x${H}`);
      assert.ok(Math.abs(b.width / b.height - aspect) < 1e-9, `seed ${seed} frame ${k}: aspect ${b.width / b.height}`);
    }
  }
});

test("the path is smooth: per-frame steps at most 1.5x the mean, second differences at most 6 / (N-1)^2 of the travel", () => {
  for (let seed = 0; seed < 1000; seed++) {
    const frames = 16;
    const path = sampleCameraPath(new Rng(seed), 512, 384, 1, frames);
    const s = motionStats(path);
    const h = 1 / (frames - 1);
    const tol = 1e-9;
    // smoothstep: speed peaks at 1.5x the mean, |e''| <= 6; the centre moves along a straight line
    assert.ok(s.step <= 1.5 * s.travel * h + tol, `seed ${seed}: step ${s.step} vs travel ${s.travel}`);
    assert.ok(s.jerk <= 6 * s.travel * h * h + tol, `seed ${seed}: second difference ${s.jerk}`);
    assert.ok(s.logStep <= 1.5 * s.logTravel * h + tol, `seed ${seed}: zoom step ${s.logStep}`);
    assert.ok(s.logJerk <= 6 * s.logTravel * h * h + tol, `seed ${seed}: zoom second difference ${s.logJerk}`);
    // and in absolute terms no frame jumps: at most 6% of the image's short side, 5% of scale per frame
    assert.ok(s.step <= 0.06 * 384, `seed ${seed}: a jump of ${s.step} px`);
    assert.ok(s.logStep <= Math.log(1.05), `seed ${seed}: a zoom jump of ${s.logStep}`);
    // starts and stops at rest
    const c = path.boxes.map(centre);
    assert.ok(Math.hypot(c[1][0] - c[0][0], c[1][1] - c[0][1]) <= s.step / 2 + tol);
  }
});

test("linear ease moves at constant speed", () => {
  const options = resolveCameraPathOptions({ ease: "linear", kinds: ["pan"] });
  const path = sampleCameraPath(new Rng(3), 400, 300, 1, 12, options);
  const s = motionStats(path);
  assert.ok(s.jerk < 1e-9 * s.travel + 1e-9, `second difference ${s.jerk}`);
  assert.ok(Math.abs(s.step - s.travel / 11) < 1e-9);
});

test("the boxes do what the motion says: zoom in shrinks, zoom out grows, a pan moves the box that way", () => {
  const seen = new Set<string>();
  for (let seed = 0; seed < 600; seed++) {
    const path = sampleCameraPath(new Rng(seed), 640, 480, 4 / 3, 16);
    const first = path.boxes[0];
    const last = path.boxes[15];
    const { zoom, pan } = path.motion;
    seen.add(`${zoom}/${pan}`);
    if (zoom === "in") assert.ok(last.width < first.width / 1.1, `seed ${seed}: zoom in ${first.width} -> ${last.width}`);
    if (zoom === "out") assert.ok(last.width > first.width * 1.1, `seed ${seed}: zoom out`);
    if (zoom === null) assert.ok(Math.abs(last.width - first.width) < 1e-9);
    if (pan !== null) {
      const [dx, dy] = [centre(last)[0] - centre(first)[0], centre(last)[1] - centre(first)[1]];
      const minMove = 0.1 * Math.min(first.width, last.width);
      if (pan.includes("left")) assert.ok(dx < -minMove, `seed ${seed}: ${pan} dx ${dx}`);
      else if (pan.includes("right")) assert.ok(dx > minMove, `seed ${seed}: ${pan} dx ${dx}`);
      else assert.ok(Math.abs(dx) < 1e-9, `seed ${seed}: ${pan} dx ${dx}`);
      if (pan.includes("up")) assert.ok(dy < -minMove * 0.75, `seed ${seed}: ${pan} dy ${dy}`);
      else if (pan.includes("down")) assert.ok(dy > minMove * 0.75, `seed ${seed}: ${pan} dy ${dy}`);
      else assert.ok(Math.abs(dy) < 1e-9, `seed ${seed}: ${pan} dy ${dy}`);
    }
  }
  // zoom in/out x (no pan + 8 directions), and pans alone: 2 * 9 + 8
  assert.equal(seen.size, 26);
});

test("the same seed gives the same path; the motion is known before the image (drawCameraMotion)", () => {
  const a = sampleCameraPath(new Rng(42), 300, 200, 1, 10);
  const b = sampleCameraPath(new Rng(42), 300, 200, 1, 10);
  assert.deepEqual(a, b);
  assert.notDeepEqual(sampleCameraPath(new Rng(43), 300, 200, 1, 10).boxes, a.boxes);
  for (let seed = 0; seed < 50; seed++) {
    assert.deepEqual(drawCameraMotion(new Rng(seed).fork(0)), sampleCameraPath(new Rng(seed), 97, 311, 2, 5).motion);
  }
});

test("motion phrases and captions", () => {
  assert.equal(motionPhrase({ zoom: "in", pan: null }), "camera zooms in");
  assert.equal(motionPhrase({ zoom: null, pan: "left" }), "camera pans left");
  assert.equal(motionPhrase({ zoom: "out", pan: "up-right" }), "camera zooms out and pans up and to the right");
  assert.equal(captionWithMotion("a dog on a beach", { zoom: "in", pan: null }), "a dog on a beach, camera zooms in");
  assert.equal(captionWithMotion("A dog on a beach.", { zoom: null, pan: "down" }), "A dog on a beach, camera pans down.");
});

test("options are validated with the field named", () => {
  assert.deepEqual(resolveCameraPathOptions({}), DEFAULT_CAMERA_PATH_OPTIONS);
  assert.throws(() => resolveCameraPathOptions({ zoom: [0.5, 2] }), /camera\.zoom is \[0\.5,2\]; allowed: \[min, max\] with 1 < min/);
  assert.throws(() => resolveCameraPathOptions({ kinds: [] }), /camera\.kinds is \[\]; allowed/);
  assert.throws(() => resolveCameraPathOptions({ kinds: ["tilt"] } as never), /camera\.kinds/);
  assert.throws(() => resolveCameraPathOptions({ ease: "bouncy" } as never), /camera\.ease is "bouncy"; allowed: linear, ease-in-out/);
  assert.throws(() => resolveCameraPathOptions({ speed: 1 } as never), CameraPathError);
  const zoomOnly = resolveCameraPathOptions({ kinds: ["zoom"] });
  for (let seed = 0; seed < 20; seed++) assert.equal(sampleCameraPath(new Rng(seed), 100, 100, 1, 4, zoomOnly).motion.pan, null);
});
