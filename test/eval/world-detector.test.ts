import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ACTION_NAMES,
  BACKGROUND_COLOR_NAMES,
  OBJECT_COLOR_NAMES,
  SHAPE_NAMES,
  TEXTURE_NAMES,
  actionClip,
  longVideo,
  renderBackground,
  resolveWorldConfig,
  stillImage,
  type ActionLabel,
  type SceneLabel,
} from "../../src/data/world/index.js";
import { ClipDetector, detectClip, detectFrame, type ClipDetection, type FrameDetection } from "../../src/eval/world-detector.js";
import { Agreement } from "./agreement.js";

// The world's labels against what a detector reads from the pixels alone. Seeds are fixed, so the rates
// are deterministic; the bar is the issue's 99% per attribute, and every shape, color, background and
// action must occur among the samples.

const config = resolveWorldConfig();
const size = { width: config.width, height: config.height };
const MIN_AGREEMENT = 0.99;

class SceneAgreement {
  readonly color = new Agreement("color");
  readonly shape = new Agreement("shape");
  readonly backgroundColor = new Agreement("background color");
  readonly texture = new Agreement("background texture");
  readonly action = new Agreement("action");
  /** Largest distance between a labelled centre and the detected centroid, pixels. */
  centreError = 0;

  add(scene: SceneLabel, detected: FrameDetection | ClipDetection): void {
    this.color.add(scene.color, detected.color);
    this.shape.add(scene.shape, detected.shape);
    this.backgroundColor.add(scene.background.color, detected.background.color);
    this.texture.add(scene.background.texture, detected.background.texture);
  }

  addAction(label: ActionLabel, detected: ClipDetection): void {
    this.add(label.scene, detected);
    this.action.add(label.name, detected.action);
    label.states.forEach((s, t) => {
      this.centreError = Math.max(this.centreError, Math.hypot(detected.frames[t].cx - s.cx, detected.frames[t].cy - s.cy));
    });
  }

  check(product: string, withAction: boolean): void {
    const all = [this.color, this.shape, this.backgroundColor, this.texture, ...(withAction ? [this.action] : [])];
    console.log(`${product}: ${all.map((a) => `${a.attribute} ${(100 * a.rate).toFixed(2)}%`).join(", ")}; max centre error ${this.centreError.toFixed(3)} px`);
    for (const a of all) assert.ok(a.rate >= MIN_AGREEMENT, `${product}: ${a.confusion()}`);
    assert.deepEqual(this.shape.labels(), new Set(SHAPE_NAMES), `${product}: not every shape was drawn`);
    assert.deepEqual(this.color.labels(), new Set(OBJECT_COLOR_NAMES), `${product}: not every color was drawn`);
    assert.deepEqual(this.backgroundColor.labels(), new Set(BACKGROUND_COLOR_NAMES), `${product}: not every background color was drawn`);
    assert.deepEqual(this.texture.labels(), new Set(TEXTURE_NAMES), `${product}: not every texture was drawn`);
    if (withAction) assert.deepEqual(this.action.labels(), new Set(ACTION_NAMES), `${product}: not every action was drawn`);
  }
}

test("still images: color, shape and background read from the pixels agree with the labels", () => {
  const agreement = new SceneAgreement();
  for (let i = 0; i < 400; i++) {
    const { label, frame } = stillImage(config, 100, i);
    const detected = detectFrame(frame, size);
    agreement.add(label.scene, detected);
    agreement.centreError = Math.max(agreement.centreError, Math.hypot(detected.cx - label.state.cx, detected.cy - label.state.cy));
  }
  agreement.check("stills", false);
  assert.ok(agreement.centreError < 0.25, `centre error ${agreement.centreError}`);
});

test("action clips: color, shape, background and action (direction, grow / shrink, rotation, bounce) agree", () => {
  const agreement = new SceneAgreement();
  let scaleError = 0;
  let turnError = 0;
  let moveError = 0;
  for (let i = 0; i < 320; i++) {
    const { label, frames } = actionClip(config, 200, i);
    const detected = detectClip(frames(), size);
    agreement.addAction(label, detected);
    // the measured quantities, not just the names, match the label
    const first = label.states[0];
    const last = label.states[label.states.length - 1];
    const { action } = label;
    if (action.verb === "grow" || action.verb === "shrink") scaleError = Math.max(scaleError, Math.abs(detected.measures.scale / (last.size / first.size) - 1));
    if (action.verb === "rotate") turnError = Math.max(turnError, Math.abs(detected.measures.turn - (last.angle - first.angle)));
    if (action.verb === "move") moveError = Math.max(moveError, Math.hypot(detected.measures.dx - (last.cx - first.cx), detected.measures.dy - (last.cy - first.cy)));
  }
  agreement.check("clips", true);
  console.log(`clips: size ratio error ${(100 * scaleError).toFixed(2)}%, turn error ${turnError.toFixed(2)} deg, displacement error ${moveError.toFixed(3)} px`);
  assert.ok(agreement.centreError < 0.25, `centre error ${agreement.centreError}`);
  assert.ok(scaleError < 0.03 && turnError < 2 && moveError < 0.25);
});

test("long videos: every labelled segment, cut to its frame range, reads as its label", () => {
  const agreement = new SceneAgreement();
  const transitions = new Set<string>();
  for (let i = 0; i < 80; i++) {
    const { label, frames } = longVideo(config, 300, i);
    let k = 0;
    let detector = new ClipDetector(size);
    let t = 0;
    for (const frame of frames()) {
      detector.push(frame);
      t++;
      const segment = label.segments[k];
      if (t === segment.end) {
        agreement.addAction(segment, detector.result());
        transitions.add(segment.transition);
        detector = new ClipDetector(size);
        k++;
      }
    }
    assert.equal(k, label.segments.length);
  }
  agreement.check("long-video segments", true);
  assert.deepEqual(transitions, new Set(["start", "continue", "cut"]));
});

test("the detector on frames with no object, and its input checks", () => {
  const background = renderBackground({ color: "gray", texture: "checker", cell: 4, phaseX: 0, phaseY: 0 }, 64, 64);
  const empty = detectFrame(background, size);
  assert.deepEqual([empty.color, empty.shape, empty.area, empty.background], [null, null, 0, { color: "gray", texture: "checker" }]);
  const clip = detectClip([background, background], size);
  assert.deepEqual([clip.color, clip.shape, clip.action, clip.direction], [null, null, "none", "none"]);
  // a still object is a clip with no action
  const { frame } = stillImage(config, 1, 0);
  assert.equal(detectClip([frame, frame, frame], size).action, "none");
  assert.throws(() => detectFrame(new Uint8Array(10), size), /detectFrame: frame has 10 bytes; allowed: a Uint8Array of width \* height \* 3 = 12288/);
  assert.throws(() => detectFrame(background, { width: 0, height: 64 }), /detectFrame: size 0 x 64 is not allowed/);
  assert.throws(() => new ClipDetector(size).result(), /no frames were pushed/);
});
