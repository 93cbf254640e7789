// Fill ops (zerosLike, expandLike, pad, scatterNDAdd, countOver) against plain references. Symbolic
// graphs run at two sizes with one session: their shapes are read at run time.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, GraphShapeError, ops } from "../../../src/graph/index.js";
import { countOver, expandLike, pad, scatterNDAdd, shapeOf, zerosLike } from "../../../src/graph/ops/fill.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import {
  type NdArray, Rng, assertClose, assertExact, fromTensor, nd, numel, randomNd, ravel, ref, roundToHalf, toTensor, unravel,
} from "../../reference/index.js";
import { compile, feeds, runOnce } from "./run-graph.js";

/** numpy.pad(x, constant) with ONNX's pad order [begin_0, .., begin_r-1, end_0, ..]; negative pads crop. */
function padRef(x: NdArray, pads: readonly number[], value = 0): NdArray {
  const r = x.shape.length;
  const shape = x.shape.map((d, i) => d + pads[i]! + pads[r + i]!);
  const y = nd(shape, new Array<number>(numel(shape)).fill(value));
  for (let flat = 0; flat < y.data.length; flat++) {
    const src = unravel(flat, shape).map((v, i) => v - pads[i]!);
    if (src.every((v, i) => v >= 0 && v < x.shape[i]!)) y.data[flat] = x.data[ravel(src, x.shape)]!;
  }
  return y;
}

/** out = data; out[indices[j, :]] += updates[j, ...] for each j in order (ONNX ScatterND, reduction add). */
function scatterNDAddRef(data: NdArray, indices: NdArray, updates: NdArray): NdArray {
  const k = indices.shape[indices.shape.length - 1]!;
  const rows = indices.data.length / k;
  const inner = numel(data.shape.slice(k));
  const out = nd(data.shape, data.data);
  for (let j = 0; j < rows; j++) {
    const idx = Array.from(indices.data.subarray(j * k, (j + 1) * k), (v, a) => (v < 0 ? v + data.shape[a]! : v));
    const base = ravel([...idx, ...new Array<number>(data.shape.length - k).fill(0)], data.shape);
    for (let e = 0; e < inner; e++) out.data[base + e]! += updates.data[j * inner + e]!;
  }
  return out;
}

test("zerosLike: static float32 and float16, symbolic at two sizes, never stored in the model", async () => {
  const g = new Graph("zeros_like");
  const x = g.input("x", "float32", [2, 3]);
  const h = g.input("h", "float16", [4]);
  const v = g.input("v", "float32", ["B", 3, "F"]);
  const zx = zerosLike(ops.exp(x));
  const zv = zerosLike(v);
  assert.deepEqual(zv.shape, ["B", 3, "F"]);
  assert.equal(zv.producer!.op, "ConstantOfShape");
  assert.equal(zv.producer!.inputs[0]!.producer!.op, "Shape", "a symbolic shape is read at run time");
  assert.ok(g.constants.has(zx.producer!.inputs[0]!), "a static shape is a constant");
  g.output("zx", zx);
  g.output("zh", zerosLike(h));
  g.output("zv", zv);
  const rng = new Rng(1);
  const s = await compile(g);
  try {
    for (const [B, F] of [[1, 2], [3, 1]] as const) {
      const got = await s.run(feeds({ x: randomNd(rng, [2, 3], 1, 2), h: randomNd(rng, [4], 1, 2), v: randomNd(rng, [B, 3, F], 1, 2) }, { h: "float16" }));
      assertExact(got.zx!, nd([2, 3]), "zerosLike static");
      assert.equal(got.zh!.dtype, "float16");
      assertExact(got.zh!, nd([4]), "zerosLike float16");
      assertExact(got.zv!, nd([B, 3, F]), `zerosLike [${B}, 3, ${F}]`);
    }
  } finally {
    await s.release();
  }
  assert.throws(() => zerosLike(g.input("ids", "int64", [3])), /ConstantOfShape: zerosLike supports float tensors, got int64\[3\]/);
});

test("shapeOf is a constant for static shapes and Shape for symbolic ones", () => {
  const g = new Graph("shape_of");
  const st = shapeOf(g.input("x", "float32", [2, 5]));
  assert.deepEqual(Array.from(g.constants.get(st)!.data as BigInt64Array, Number), [2, 5]);
  const sy = shapeOf(g.input("v", "float32", ["B", 5]));
  assert.equal(sy.producer!.op, "Shape");
  assert.deepEqual(sy.shape, [2]);
});

test("expandLike: static, lower rank, and to a symbolic shape at two sizes", async () => {
  const g = new Graph("expand_like");
  const row = g.input("row", "float32", [1, 3, 1]);
  const big = g.input("big", "float32", [2, 3, 4]);
  const bias = g.input("bias", "float32", [3, 1]);
  const v = g.input("v", "float32", ["B", 3, "F"]);
  g.output("e1", expandLike(row, big));
  const e2 = expandLike(bias, v);
  assert.deepEqual(e2.shape, ["B", 3, "F"]);
  g.output("e2", e2);
  const rng = new Rng(2);
  const [ra, ba, bias0] = [randomNd(rng, [1, 3, 1]), randomNd(rng, [2, 3, 4]), randomNd(rng, [3, 1])];
  const s = await compile(g);
  try {
    for (const [B, F] of [[1, 1], [2, 4]] as const) {
      const got = await s.run(feeds({ row: ra, big: ba, bias: bias0, v: randomNd(rng, [B, 3, F]) }));
      assertExact(got.e1!, ref.expand(ra, [2, 3, 4]), "expand [1, 3, 1] like [2, 3, 4]");
      assertExact(got.e2!, ref.expand(bias0, [B, 3, F]), `expand [3, 1] like [${B}, 3, ${F}]`);
    }
  } finally {
    await s.release();
  }
  assert.throws(() => expandLike(big, bias), /Expand: cannot expand float32\[2, 3, 4\] to the lower-rank float32\[3, 1\]/);
  assert.throws(() => expandLike(big, g.input("other", "float32", [2, 5, 4])), /Expand: cannot expand float32\[2, 3, 4\] to float32\[2, 5, 4\]/);
});

test("pad: static pads, negative pads crop, a fill value, float16, symbolic input dims", async () => {
  const rng = new Rng(3);
  const x = randomNd(rng, [2, 3, 2]);
  const m = randomNd(rng, [3, 4]);
  const cases: [string, NdArray, number[], number][] = [
    ["grow", x, [1, 0, 2, 0, 3, 1], 0],
    ["crop", m, [-1, 0, 0, -2], 0],
    ["crop and grow", m, [1, -2, -1, 2], 1.5],
    ["to empty", m, [0, -2, 0, -2], 0],
  ];
  const got = await runOnce((g) => Object.fromEntries(cases.map(([name, a, pads, value]) => {
    const y = pad(g.input(`${name.replaceAll(" ", "_")}_in`, "float32", a.shape), pads, value);
    assert.deepEqual(y.shape, padRef(a, pads).shape, `${name}: build-time shape`);
    return [name, y];
  })), Object.fromEntries(cases.map(([name, a]) => [`${name.replaceAll(" ", "_")}_in`, a])));
  for (const [name, a, pads, value] of cases) assertExact(got[name]!, padRef(a, pads, value), name);

  const g = new Graph("pad_f16_symbolic");
  const h = g.input("h", "float16", [2, 2]);
  const v = g.input("v", "float32", ["B", 3]);
  g.output("hp", pad(h, [0, 1, 1, 0], 0.1));
  const pv = pad(v, [0, 2, 0, -1], -1);
  assert.deepEqual(pv.shape, ["B", 4]);
  g.output("vp", pv);
  const ha = randomNd(rng, [2, 2]);
  const s = await compile(g);
  try {
    for (const B of [1, 3]) {
      const va = randomNd(rng, [B, 3]);
      const out = await s.run({ ...feeds({ v: va }), h: toTensor(ha, "float16") });
      assert.equal(out.hp!.dtype, "float16");
      // the fill is cast from float32 to float16 in the graph: 0.1 rounds to the nearest half
      assertExact(out.hp!, padRef(nd(ha.shape, ha.data.map(roundToHalf)), [0, 1, 1, 0], roundToHalf(Math.fround(0.1))), "float16");
      assertExact(out.vp!, padRef(va, [0, 2, 0, -1], -1), `symbolic [${B}, 3]`);
    }
  } finally {
    await s.release();
  }
});

test("pad with pads given as run-time values, at two pad sizes", async () => {
  const g = new Graph("pad_runtime");
  const x = g.input("x", "float32", [2, 3]);
  const before = g.input("before", "int64", [1]);
  const after = g.input("after", "int64", [1]);
  const y = pad(x, [0, before, 1, after], 0);
  assert.equal(typeof y.shape[1], "string", "a run-time pad makes the axis symbolic");
  assert.equal(y.shape[0], 3);
  g.output("y", y);
  const rng = new Rng(4);
  const xa = randomNd(rng, [2, 3]);
  const s = await compile(g);
  try {
    for (const [b, e] of [[2, 0], [-1, 3]] as const) {
      const out = await s.run({ ...feeds({ x: xa }), before: Tensor.int64([b], [1]), after: Tensor.int64([e], [1]) });
      assertExact(out.y!, padRef(xa, [0, b, 1, e]), `pads before ${b}, after ${e}`);
    }
  } finally {
    await s.release();
  }
});

test("pad build errors name the op and the sizes", () => {
  const g = new Graph("pad_errors");
  const x = g.input("x", "float32", [2, 3]);
  assert.throws(() => pad(x, [1, 1], 0, "frame_pad"), (e: Error) => {
    assert.ok(e instanceof GraphShapeError);
    assert.match(e.message, /Pad frame_pad: needs 4 pads for float32\[2, 3\], got 2/);
    return true;
  });
  assert.throws(() => pad(x, [0, -2, 0, -2]), /Pad: pads -2, -2 on axis 1 leave a negative size/);
});

test("scatterNDAdd accumulates repeated indices (rows and single elements, negative index)", async () => {
  const rng = new Rng(5);
  const data = randomNd(rng, [5, 3]);
  const rows = nd([4, 1], [1, 3, 1, -1]); // row 1 twice, -1 is row 4
  const rowUpdates = randomNd(rng, [4, 3]);
  const cells = nd([2, 2, 2], [0, 1, 2, 3, 0, 1, 0, 1]); // cell (0, 1) three times
  const cellData = randomNd(rng, [3, 4]);
  const cellUpdates = randomNd(rng, [2, 2]);
  const got = await runOnce((g) => {
    const d = g.input("data", "float32", [5, 3]);
    const c = g.input("cellData", "float32", [3, 4]);
    return {
      scatteredRows: scatterNDAdd(d, g.input("rows", "int64", [4, 1]), g.input("rowUpdates", "float32", [4, 3])),
      scatteredCells: scatterNDAdd(c, g.input("cells", "int64", [2, 2, 2]), g.input("cellUpdates", "float32", [2, 2])),
      fromZeros: scatterNDAdd(zerosLike(d), g.input("rows2", "int64", [4, 1]), g.input("rowUpdates2", "float32", [4, 3])),
    };
  }, {
    data, rows: toTensor(rows, "int64"), rowUpdates, cellData, cells: toTensor(cells, "int64"), cellUpdates,
    rows2: toTensor(rows, "int64"), rowUpdates2: rowUpdates,
  });
  // float32 additions in index order against float64 sums: a few ulps
  assertClose(got.scatteredRows!, scatterNDAddRef(data, rows, rowUpdates), { rtol: 1e-6, atol: 1e-7, label: "rows" });
  assertClose(got.scatteredCells!, scatterNDAddRef(cellData, cells, cellUpdates), { rtol: 1e-6, atol: 1e-7, label: "cells" });
  assertClose(got.fromZeros!, scatterNDAddRef(nd([5, 3]), rows, rowUpdates), { rtol: 1e-6, atol: 1e-7, label: "into zeros" });
  assert.equal(fromTensor(got.fromZeros!).data[0], 0, "row 0 is never indexed");
});

test("scatterNDAdd build errors: index dtype, index depth, update shape", () => {
  const g = new Graph("scatter_errors");
  const d = g.input("d", "float32", [5, 3]);
  const u = g.input("u", "float32", [4, 3]);
  assert.throws(() => scatterNDAdd(d, g.input("i32", "int32", [4, 1]), u), /ScatterND: indices must be int64, got int32\[4, 1\]/);
  assert.throws(() => scatterNDAdd(d, g.input("deep", "int64", [4, 3]), u), /indices int64\[4, 3\] must end in a static axis of at most 2/);
  assert.throws(() => scatterNDAdd(d, g.input("i", "int64", [4, 1]), g.input("bad", "float32", [4, 2])), /updates float32\[4, 2\] must be \[4, 3\] for data float32\[5, 3\]/);
});

test("countOver: static counts are constants, symbolic ones are read at run time (two sizes)", async () => {
  const g = new Graph("count_over");
  const x = g.input("x", "float32", [2, 3, 4]);
  const h = g.input("h", "float16", [5, 6]);
  const v = g.input("v", "float32", ["B", 3, "F", 2]);
  const staticCount = countOver(x, [0, -1]);
  assert.ok(g.constants.has(staticCount), "a static count is a constant");
  const onlyStatic = countOver(v, [1, 3]);
  assert.ok(g.constants.has(onlyStatic), "static axes of a symbolic value need no run-time shape");
  const frames = countOver(v, [0, 2]);
  assert.equal(frames.producer!.op, "Cast");
  assert.deepEqual(frames.shape, []);
  g.output("static", staticCount);
  g.output("half", countOver(h, [1]));
  g.output("onlyStatic", onlyStatic);
  g.output("frames", frames);
  g.output("all", countOver(v, [0, 1, 2, 3]));
  const s = await compile(g);
  try {
    for (const [B, F] of [[1, 3], [4, 2]] as const) {
      const got = await s.run({ ...feeds({ x: nd([2, 3, 4]), v: nd([B, 3, F, 2]) }), h: toTensor(nd([5, 6]), "float16") });
      assertExact(got.static!, nd([], [8]), "2 * 4");
      assert.equal(got.half!.dtype, "float16");
      assertExact(got.half!, nd([], [6]), "float16 count");
      assertExact(got.onlyStatic!, nd([], [6]), "3 * 2");
      assertExact(got.frames!, nd([], [B * F]), `B * F at [${B}, 3, ${F}, 2]`);
      assertExact(got.all!, nd([], [B * 3 * F * 2]), `all axes at [${B}, 3, ${F}, 2]`);
    }
  } finally {
    await s.release();
  }
});
test("countOver refuses an axis named twice (it would count it twice)", () => {
  const g = new Graph("count_twice");
  const x = g.input("x", "float32", [2, 3]);
  assert.throws(() => countOver(x, [1, -1]), /count: axes \[1, -1\] name axis 1 more than once/);
});

