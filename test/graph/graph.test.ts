// Graph bookkeeping: the run-time size conditions that symbolic shapes assume (constraints), and names.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, GraphShapeError, ops } from "../../src/graph/index.js";
import { describeConstraint } from "../../src/graph/graph.js";

test("a stride-2 conv on symbolic H records that H must be even, naming the conv", () => {
  const g = new Graph("down");
  const x = g.input("x", "float32", ["B", 4, "H", "W"]);
  const w = g.param("down_blocks.0.downsamplers.0.conv.weight", [4, 4, 3, 3]);
  const y = ops.conv(x, w, null, { stride: 2, padding: 1 });
  assert.deepEqual(y.shape, ["B", 4, "H/2", "W/2"]);
  assert.deepEqual(g.constraints.map(describeConstraint), [
    "Conv down_blocks.0.downsamplers.0.conv needs H divisible by 2",
    "Conv down_blocks.0.downsamplers.0.conv needs W divisible by 2",
  ]);
  // a second downsampling needs H divisible by 4; repeats of a known condition keep the first reason
  const y2 = ops.conv(y, g.param("down_blocks.1.downsamplers.0.conv.weight", [4, 4, 3, 3]), null, { stride: 2, padding: 1 });
  ops.resizeNearest(ops.silu(y2), [1, 1, 2, 2]);
  assert.deepEqual(g.constraints.slice(2).map(describeConstraint), [
    "Conv down_blocks.1.downsamplers.0.conv needs H divisible by 4",
    "Conv down_blocks.1.downsamplers.0.conv needs W divisible by 4",
  ]);
});

test("split into equal parts and reshape with -1 record the divisibility their pieces need", () => {
  const g = new Graph("pieces");
  const x = g.input("x", "float32", ["B", "F", 3]);
  const [a] = ops.split(x, 1, { parts: 2 }, "frames.halves");
  assert.deepEqual(a!.shape, ["B", "F/2", 3]);
  ops.reshape(x, [-1, 4], "tokens");
  assert.deepEqual(g.constraints.map(describeConstraint), [
    "Split frames.halves needs F divisible by 2",
    "Reshape tokens needs 3*B*F divisible by 4",
  ]);
});

test("requireDivisible and requireAtLeast: static sizes are checked at once, symbolic ones recorded", () => {
  const g = new Graph("explicit");
  g.requireDivisible(8, 4, "Op a");
  assert.throws(() => g.requireDivisible(6, 4, "Op b"), (e: unknown) => e instanceof GraphShapeError && /Op b: needs 6 divisible by 4/.test(e.message));
  assert.throws(() => g.requireAtLeast(3, 5, "Op c"), /Op c: needs 3 >= 5/);
  g.requireDivisible("F", 1, "Op d"); // always holds: not recorded
  g.requireDivisible("F*B", 3, "Op e");
  g.requireDivisible("B*F", 3, "Op f"); // the same condition: the first reason stays
  g.requireAtLeast("F", 4, "Op g");
  assert.deepEqual(g.constraints.map(describeConstraint), ["Op e needs B*F divisible by 3", "Op g needs F >= 4"]);
});

test("slice bounds on a symbolic axis: empty ranges are 0 long, bounds past the start record the size they need", () => {
  const g = new Graph("slices");
  const x = g.input("x", "float32", ["F", 3]);
  assert.deepEqual(ops.slice(x, 0, 5, 2).shape, [0, 3]);
  assert.deepEqual(g.constraints, [], "an empty range needs no size");
  assert.deepEqual(ops.slice(x, 0, 0, 100, 1, "head").shape, [100, 3]);
  ops.slice(x, 0, 2, undefined, 1, "tail");
  ops.slice(x, 0, 1, -2, 1, "inner");
  ops.slice(x, 0, -6, undefined, 1, "last");
  assert.deepEqual(g.constraints.map(describeConstraint), [
    "Slice head needs F >= 100",
    "Slice tail needs F >= 2",
    "Slice inner needs F >= 3",
    "Slice last needs F >= 6",
  ]);
});

test("names starting with % are reserved for internal values; empty names are refused", () => {
  const g = new Graph("names");
  assert.throws(() => g.input("%v3", "float32", [1]), /input name "%v3" may not start with "%"/);
  const x = g.input("x", "float32", [1]);
  assert.throws(() => g.output("%c1", x), /output name "%c1" may not start with "%"/);
  assert.throws(() => g.input("", "float32", [1]), /input name must not be empty/);
});
