import { test } from "node:test";
import assert from "node:assert/strict";
import { ACTION_NAMES, actionCaption, actionPhrase, longVideoCaption, stillCaption, type SceneLabel, type SegmentLabel } from "../../../src/data/world/index.js";

const redStar: SceneLabel = { shape: "star", color: "red", background: { color: "blue", texture: "plain" } };
const orangeSquare: SceneLabel = { shape: "square", color: "orange", background: { color: "gray", texture: "stripes", orientation: "vertical", band: 4, phase: 1 } };
const whiteCircle: SceneLabel = { shape: "circle", color: "white", background: { color: "black", texture: "speckle", noiseSeed: 7 } };

test("captions follow the documented grammar", () => {
  assert.equal(stillCaption(redStar), "a red star on a blue background");
  assert.equal(stillCaption(orangeSquare), "an orange square on a gray striped background");
  assert.equal(stillCaption({ ...whiteCircle, background: { color: "orange", texture: "checker", cell: 3, phaseX: 0, phaseY: 0 } }), "a white circle on an orange checkered background");
  assert.equal(actionCaption(redStar, "move-left", false), "a red star moves left");
  assert.equal(actionCaption(redStar, "move-up-left", true), "a red star on a blue background moves up and to the left");
  assert.equal(actionCaption(whiteCircle, "bounce", true), "a white circle on a black speckled background bounces");
  assert.deepEqual(
    ACTION_NAMES.map(actionPhrase),
    [
      "moves left",
      "moves right",
      "moves up",
      "moves down",
      "moves up and to the left",
      "moves up and to the right",
      "moves down and to the left",
      "moves down and to the right",
      "grows",
      "shrinks",
      "rotates clockwise",
      "rotates counterclockwise",
      "bounces",
    ],
  );
});

test("a long video's summary: one sentence per scene, actions joined by 'then'", () => {
  const seg = (scene: SceneLabel, name: SegmentLabel["name"], transition: SegmentLabel["transition"]) => ({ scene, name, transition });
  assert.equal(
    longVideoCaption([seg(redStar, "move-left", "start"), seg(redStar, "grow", "continue"), seg(whiteCircle, "bounce", "cut"), seg(orangeSquare, "rotate-clockwise", "cut"), seg(orangeSquare, "shrink", "continue")]),
    "A red star on a blue background moves left, then grows. Then a white circle on a black speckled background bounces. Then an orange square on a gray striped background rotates clockwise, then shrinks.",
  );
});
