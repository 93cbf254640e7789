import { test } from "node:test";
import assert from "node:assert/strict";
import { ACTION_NAMES, DEFAULT_WORLD_CONFIG, resolveWorldConfig, WorldConfigError } from "../../../src/data/world/index.js";

test("defaults: 64 x 64, everything allowed; a resolved config resolves to itself (JSON round trip)", () => {
  const c = resolveWorldConfig();
  assert.deepEqual(c, { ...DEFAULT_WORLD_CONFIG });
  assert.equal(c.width, 64);
  assert.equal(c.height, 64);
  assert.equal(c.actions.length, 13);
  assert.equal(c.colors.length, 8);
  assert.deepEqual(resolveWorldConfig(JSON.parse(JSON.stringify(c))), c);
  // the defaults are not shared: changing a resolved list leaves the next resolve alone
  c.shapes.pop();
  assert.equal(resolveWorldConfig().shapes.length, 4);
  const small = resolveWorldConfig({ width: 96, height: 48, shapes: ["star"], actions: ["bounce"], clipFrames: 8 });
  assert.deepEqual([small.width, small.height, small.shapes, small.actions], [96, 48, ["star"], ["bounce"]]);
});

test("every invalid field is named with its value and what is allowed", () => {
  const cases: [unknown, RegExp][] = [
    [null, /^config is null; allowed: an object$/],
    [[1], /^config is \[1\]; allowed: an object$/],
    [{ widht: 64 }, /^config.widht is not a known field; known: width, height, /],
    [{ width: 8 }, /^config.width is 8; allowed: an integer in \[16, 4096\]$/],
    [{ height: 64.5 }, /^config.height is 64.5; allowed: an integer in \[16, 4096\]$/],
    [{ samplesPerRow: 0 }, /^config.samplesPerRow is 0; allowed: an integer in \[1, 16\]$/],
    [{ shapes: [] }, /^config.shapes is \[\]; allowed: a non-empty list without repeats of circle, square, triangle, star$/],
    [{ shapes: ["hexagon"] }, /^config.shapes is \["hexagon"\]; allowed: a non-empty list/],
    [{ colors: ["red", "red"] }, /^config.colors is \["red","red"\]; allowed: a non-empty list without repeats of red, orange/],
    [{ backgroundColors: "black" }, /^config.backgroundColors is "black"; allowed: a non-empty list/],
    [{ textures: ["plaid"] }, /^config.textures is \["plaid"\]; allowed: .*plain, stripes, checker, speckle$/],
    [{ actions: ["jump"] }, /^config.actions is \["jump"\]; allowed: .*move-left, .*bounce$/],
    [{ size: [0.3, 0.2] }, /^config.size is \[0.3,0.2\]; allowed: \[min, max\] with numbers 0.02 <= min <= max <= 0.45$/],
    [{ size: 0.2 }, /^config.size is 0.2; allowed: \[min, max\]/],
    [{ moveSpeed: [0, 0.1] }, /^config.moveSpeed is \[0,0.1\]; allowed: \[min, max\] with numbers 0.001/],
    [{ growthRate: [0.9, 1.1] }, /^config.growthRate is \[0.9,1.1\]; allowed: .*1.001 <= min/],
    [{ rotationSpeed: [5, 40] }, /^config.rotationSpeed is \[5,40\]; allowed: .*max <= 30$/],
    [{ segmentFrames: [8.5, 12] }, /^config.segmentFrames is \[8.5,12\]; allowed: \[min, max\] with integers 8 <= min/],
    [{ segments: [0, 2] }, /^config.segments is \[0,2\]; allowed: \[min, max\] with integers 1 <= min/],
    [{ clipFrames: 4 }, /^config.clipFrames is 4; allowed: an integer in \[8, 100000\]$/],
    [{ cutProbability: 1.5 }, /^config.cutProbability is 1.5; allowed: a number in \[0, 1\]$/],
    [{ captionBackground: "sometimes" }, /^config.captionBackground is "sometimes"; allowed: always, never, random$/],
    // cross-field: what a fresh object could not do inside the frame
    [{ width: 16, height: 16, size: [0.1, 0.2] }, /^config.size is \[0.1,0.2\]; allowed: a range whose minimum is at least 2 pixels \(min\(width, height\) = 16 gives 1.60\)$/],
    [{ width: 16, height: 16, size: [0.15, 0.45] }, /^config.size is \[0.15,0.45\]; allowed: a maximum of at most 0.438, so the object fits the frame$/],
    [{ moveSpeed: [0.1, 0.2] }, /^config.moveSpeed is \[0.1,0.2\]; allowed: a minimum that crosses at most the free width in 24 frames/],
    [{ growthRate: [1.2, 1.3] }, /^config.growthRate is \[1.2,1.3\]; allowed: a minimum whose 24th power/],
    [{ bounceHeight: [0.9, 0.9] }, /^config.bounceHeight is \[0.9,0.9\]; allowed: a minimum that fits below the smallest object/],
    [{ clipFrames: 8, bouncePeriod: [12, 14] }, /^config.bouncePeriod is \[12,14\]; allowed: a minimum of at most 10 for 8-frame clips or segments$/],
    [{ shapes: ["circle"], actions: ["rotate-clockwise"] }, /^config.actions is \["rotate-clockwise"\]; allowed: an action other than rotate when shapes is only circle/],
    [{ colors: ["red"], backgroundColors: ["red"] }, /^config.backgroundColors is \["red"\]; allowed: a list with a color other than red/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => resolveWorldConfig(input), (e: unknown) => e instanceof WorldConfigError && message.test(e.message), `${JSON.stringify(input)}: ${message}`);
  }
  // each cross-field rule only applies to the actions that need it
  resolveWorldConfig({ moveSpeed: [0.1, 0.2], actions: ACTION_NAMES.filter((a) => !a.startsWith("move")) });
  resolveWorldConfig({ shapes: ["circle"], actions: ["rotate-clockwise", "grow"] });
});
