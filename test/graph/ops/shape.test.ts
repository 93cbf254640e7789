// Shape ops (reshape, reshapeLike, transpose, concat, slice, split, expand, unsqueeze, squeeze, gather,
// resizeNearest) against the reference. Every output element is a copy of one input element, so
// results must match exactly (rtol 0, atol 0).

import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, GraphShapeError, ops, type Value } from "../../../src/graph/index.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import { Rng, assertExact, nd, randomNd, ref, toTensor } from "../../reference/index.js";
import { compile, feeds, runOnce } from "./run-graph.js";

test("reshape (with -1), transpose, unsqueeze and squeeze on static shapes", async () => {
  const rng = new Rng(1);
  const x = randomNd(rng, [2, 3, 4]);
  const got = await runOnce((g) => {
    const xv = g.input("x", "float32", x.shape);
    return {
      r1: ops.reshape(xv, [4, 6]), r2: ops.reshape(xv, [-1, 4]), r3: ops.reshape(xv, [6, -1, 2]),
      t1: ops.transpose(xv, [2, 0, 1]), t2: ops.transpose(xv, [1, 0, 2]),
      u: ops.unsqueeze(xv, [0, -1]), u2: ops.unsqueeze(xv, [2]), s: ops.squeeze(ops.unsqueeze(xv, [1, 3]), [-2, 1]),
    };
  }, { x });
  assertExact(got.r1!, ref.reshape(x, [4, 6]), "reshape [4, 6]");
  assertExact(got.r2!, ref.reshape(x, [-1, 4]), "reshape [-1, 4]");
  assertExact(got.r3!, ref.reshape(x, [6, -1, 2]), "reshape [6, -1, 2]");
  assertExact(got.t1!, ref.transpose(x, [2, 0, 1]), "transpose [2, 0, 1]");
  assertExact(got.t2!, ref.transpose(x, [1, 0, 2]), "transpose [1, 0, 2]");
  assertExact(got.u!, ref.unsqueeze(x, [0, -1]), "unsqueeze [0, -1]");
  assertExact(got.u2!, ref.unsqueeze(x, [2]), "unsqueeze [2]");
  assertExact(got.s!, x, "squeeze(unsqueeze)");
});

test("frames to batch and back on symbolic [B, C, F, H, W]: transpose, reshape, reshapeLike at two sizes", async () => {
  const g = new Graph("symbolic_reshape");
  const x = g.input("x", "float32", ["B", 3, "F", "H", "W"]);
  const framesFirst = ops.transpose(x, [0, 2, 1, 3, 4]); // [B, F, C, H, W]
  const perFrame = ops.reshape(framesFirst, ["B*F", 3, "H", "W"]); // [B*F, C, H, W]
  assert.deepEqual(perFrame.shape, ["B*F", 3, "H", "W"]);
  const tokens = ops.reshape(ops.transpose(x, [0, 3, 4, 2, 1]), ["B*H*W", "F", 3]); // [B*H*W, F, C]
  const flat = ops.reshape(x, ["B", -1]); // [B, 3*F*H*W]
  assert.deepEqual(flat.shape, ["B", "3*F*H*W"]);
  g.output("perFrame", perFrame);
  g.output("tokens", tokens);
  g.output("flat", flat);
  g.output("back", ops.reshapeLike(flat, x)); // [B, C, F, H, W] again
  g.output("unsq", ops.squeeze(ops.unsqueeze(x, [-1]), [5]));
  const rng = new Rng(2);
  const s = await compile(g);
  try {
    for (const shape of [[1, 3, 1, 2, 3], [2, 3, 4, 3, 2]]) {
      const [B, C, F, H, W] = shape as [number, number, number, number, number];
      const xa = randomNd(rng, shape);
      const got = await s.run(feeds({ x: xa }));
      assertExact(got.perFrame!, ref.reshape(ref.transpose(xa, [0, 2, 1, 3, 4]), [B * F, C, H, W]), "per frame");
      assertExact(got.tokens!, ref.reshape(ref.transpose(xa, [0, 3, 4, 2, 1]), [B * H * W, F, C]), "tokens");
      assertExact(got.flat!, ref.reshape(xa, [B, -1]), "flat");
      assertExact(got.back!, xa, "reshapeLike");
      assertExact(got.unsq!, xa, "squeeze(unsqueeze)");
    }
  } finally {
    await s.release();
  }
});

test("shapeTensor computes products of input symbols at run time", async () => {
  const g = new Graph("shape_tensor");
  const x = g.input("x", "float32", ["B", 2, "F", "H", "W"]);
  g.output("dims", ops.shapeTensor(g, ["B*F", 2, "2*H", "H*W", 5]));
  g.output("same", ops.identity(x)); // keeps x a live input
  const s = await compile(g);
  try {
    for (const [B, F, H, W] of [[1, 1, 2, 3], [2, 3, 4, 1]] as const) {
      const got = await s.run(feeds({ x: nd([B, 2, F, H, W]) }));
      assert.deepEqual(Array.from(got.dims!.data as BigInt64Array, Number), [B * F, 2, 2 * H, H * W, 5]);
    }
  } finally {
    await s.release();
  }
});

test("shapeTensor computes fractional monomials (num/den times symbols) with an exact integer division", async () => {
  const g = new Graph("shape_tensor_fraction");
  const x = g.input("x", "float32", ["B", 2, "F", "H", "W"]);
  // H/2, 3*H/4, W/2*F, B*H*W/16: the sizes a stride-2 downsample (and a second one) give
  g.output("dims", ops.shapeTensor(g, ["H/2", "3*H/4", "F*W/2", "B*H*W/16", "H/2/2", 7]));
  g.output("same", ops.identity(x));
  const s = await compile(g);
  try {
    for (const [B, F, H, W] of [[1, 1, 4, 4], [2, 3, 8, 12], [3, 5, 16, 4]] as const) {
      const got = await s.run(feeds({ x: nd([B, 2, F, H, W]) }));
      assert.deepEqual(Array.from(got.dims!.data as BigInt64Array, Number), [H / 2, (3 * H) / 4, (F * W) / 2, (B * H * W) / 16, H / 4, 7]);
    }
  } finally {
    await s.release();
  }
});

test("shapeTensor refuses dims it cannot compute: opaque sums and symbols on no input", () => {
  const g = new Graph("shape_tensor_bad");
  g.input("x", "float32", ["B", "H"]);
  assert.throws(() => ops.shapeTensor(g, ["(H+1)"]), /cannot compute dimension \(H\+1\)/);
  assert.throws(() => ops.shapeTensor(g, ["Z/2"]), /symbol Z does not appear alone/);
});

test("reshape after a stride-2 conv on symbolic H, W runs at two sizes and refuses odd H", async () => {
  const g = new Graph("reshape_after_downsample");
  const x = g.input("x", "float32", ["B", 2, "H", "W"]);
  const w = g.param("w", [2, 2, 3, 3]);
  const y = ops.conv(x, w, null, { stride: 2, padding: 1 }); // [B, 2, H/2, W/2]
  assert.deepEqual(y.shape, ["B", 2, "H/2", "W/2"]);
  const tokens = ops.reshape(ops.transpose(y, [0, 2, 3, 1]), ["B*H*W/4", 2]); // [B*H/2*W/2, C]
  const halves = ops.reshape(y, ["B", 2, "H/4", 2, "W/2"]); // [B, C, H/4, 2, W/2]: two open dims, H divisible by 4
  g.output("tokens", tokens);
  g.output("halves", halves);
  g.output("y", y);
  const rng = new Rng(9);
  const s = await compile(g, { w: randomNd(rng, [2, 2, 3, 3]) });
  try {
    for (const [B, H, W] of [[1, 4, 4], [2, 8, 6]] as const) {
      const got = await s.run(feeds({ x: randomNd(rng, [B, 2, H, W]) }));
      assert.deepEqual(got.tokens!.shape, [(B * H * W) / 4, 2]);
      assert.deepEqual(got.halves!.shape, [B, 2, H / 4, 2, W / 2]);
      assert.deepEqual(Array.from(got.halves!.data as Float32Array), Array.from(got.y!.data as Float32Array)); // a reshape copies in order
    }
    const odd = feeds({ x: randomNd(rng, [1, 2, 6, 4]) }); // H/4 is not whole at H = 6
    await assert.rejects(s.run(odd), /divisible by 4/);
  } finally {
    await s.release();
  }
});

test("concat on static and symbolic axes; split into sizes and equal parts", async () => {
  const g = new Graph("concat_split");
  const a = g.input("a", "float32", ["B", 2, "F", 3]);
  const b = g.input("b", "float32", ["B", 3, "F", 3]);
  const c = g.input("c", "float32", ["B", 1, "F", 3]);
  const cat = ops.concat([a, b, c], 1);
  assert.deepEqual(cat.shape, ["B", 6, "F", 3]);
  g.output("cat", cat);
  g.output("catFrames", ops.concat([a, ops.expand(c, a.shape)], -2)); // along F: [B, 2, 2*F, 3] (label: next test)
  const [s0, s1, s2] = ops.split(cat, 1, [1, 2, 3]);
  g.output("s0", s0!);
  g.output("s1", s1!);
  g.output("s2", s2!);
  const halves = ops.split(ops.concat([a, a], 1), 1, { parts: 2 }); // [B, 4, F, 3] -> 2 x [B, 2, F, 3]
  g.output("h0", halves[0]!);
  g.output("h1", halves[1]!);
  const thirds = ops.split(cat, -1, { parts: 3 });
  thirds.forEach((t, i) => g.output(`t${i}`, t));
  const rng = new Rng(3);
  const s = await compile(g);
  try {
    for (const [B, F] of [[1, 1], [2, 3]] as const) {
      const [aa, ba, ca] = [randomNd(rng, [B, 2, F, 3]), randomNd(rng, [B, 3, F, 3]), randomNd(rng, [B, 1, F, 3])];
      const got = await s.run(feeds({ a: aa, b: ba, c: ca }));
      const wantCat = ref.concat([aa, ba, ca], 1);
      assertExact(got.cat!, wantCat, "concat axis 1");
      assertExact(got.catFrames!, ref.concat([aa, ref.expand(ca, [B, 2, F, 3])], -2), "concat axis -2");
      ref.split(wantCat, 1, [1, 2, 3]).forEach((p, i) => assertExact(got[`s${i}`]!, p, `split sizes piece ${i}`));
      assertExact(got.h0!, aa, "split parts 0");
      assertExact(got.h1!, aa, "split parts 1");
      ref.split(wantCat, -1, [1, 1, 1]).forEach((p, i) => assertExact(got[`t${i}`]!, p, `split thirds ${i}`));
    }
  } finally {
    await s.release();
  }
});

test("concat along a symbolic axis keeps the dimension a symbol: [F] -> F, [F, F] -> 2*F", () => {
  // A long-video strategy concatenates clips along frames; the result must still broadcast with and
  // split back into [B, C, F, H, W] pieces.
  const g = new Graph("concat_symbolic");
  const a = g.input("a", "float32", ["B", 2, "F", 3]);
  assert.deepEqual(ops.concat([a], 2).shape, ["B", 2, "F", 3]);
  const two = ops.concat([a, a], 2);
  assert.deepEqual(two.shape, ["B", 2, "2*F", 3]);
  assert.deepEqual(ops.split(two, 2, { parts: 2 })[0]!.shape, a.shape);
});

test("slice with Python semantics: negative indices, clamping, steps both ways", async () => {
  const rng = new Rng(4);
  const x = randomNd(rng, [3, 6, 5]);
  const cases: [number, number, number | undefined, number][] = [
    [1, 1, 3, 1], [1, -2, undefined, 1], [2, 0, undefined, 2], [1, 0, undefined, -1], [2, 3, 0, -2],
    [1, -1, -4, -1], [0, 1, 100, 1], [-1, -100, 2, 1], [1, 10, undefined, -1], [2, 4, 1, 1], [1, 2, -1, 3],
  ];
  const got = await runOnce((g) => {
    const xv = g.input("x", "float32", x.shape);
    const out: Record<string, Value> = {};
    cases.forEach(([axis, start, end, step], i) => (out[`y${i}`] = ops.slice(xv, axis, start, end, step)));
    return out;
  }, { x });
  cases.forEach(([axis, start, end, step], i) => assertExact(got[`y${i}`]!, ref.slice(x, axis, start, end, step), `x[${start}:${end ?? ""}:${step}] on axis ${axis}`));
});

test("slice with a negative step and a start before the beginning is empty, as in Python", async () => {
  // Python: list(range(5))[-10::-1] == []. ONNX clamps such a start to 0 for a negative step, so the
  // builder must not pass it through unchanged.
  const x = nd([5], [0, 1, 2, 3, 4]);
  const g = new Graph("slice_before_start");
  const y = ops.slice(g.input("x", "float32", [5]), 0, -10, undefined, -1);
  g.output("y", y);
  const s = await compile(g);
  try {
    const got = await s.run(feeds({ x }));
    assert.deepEqual(y.shape, [0]);
    assertExact(got.y!, ref.slice(x, 0, -10, undefined, -1), "x[-10::-1]");
  } finally {
    await s.release();
  }
});

test("slice on symbolic axes runs at two sizes with one session", async () => {
  const g = new Graph("symbolic_slice");
  const x = g.input("x", "float32", ["B", 2, "F", "H", "W"]);
  const cases: [number, number, number | undefined][] = [[2, 1, undefined], [2, 0, 1], [2, -1, undefined], [2, 1, -1], [3, 0, 2]];
  cases.forEach(([axis, start, end], i) => g.output(`y${i}`, ops.slice(x, axis, start, end)));
  // Lengths known at build time stay static; the others are symbolic (checked at run time below).
  assert.deepEqual(g.outputs.map((o) => o.value.shape.map((d) => typeof d === "number" ? d : "sym")), [
    ["sym", 2, "sym", "sym", "sym"], ["sym", 2, 1, "sym", "sym"], ["sym", 2, 1, "sym", "sym"], ["sym", 2, "sym", "sym", "sym"], ["sym", 2, "sym", 2, "sym"],
  ]);
  const rng = new Rng(5);
  const s = await compile(g);
  try {
    for (const shape of [[1, 2, 3, 2, 3], [2, 2, 5, 4, 1]]) {
      const xa = randomNd(rng, shape);
      const got = await s.run(feeds({ x: xa }));
      cases.forEach(([axis, start, end], i) => assertExact(got[`y${i}`]!, ref.slice(xa, axis, start, end), `[${shape}] axis ${axis} ${start}:${end ?? ""}`));
    }
  } finally {
    await s.release();
  }
});

test("expand broadcasts to static and symbolic targets", async () => {
  const g = new Graph("expand");
  const x = g.input("x", "float32", ["B", 2, "F", "H", "W"]);
  const p = g.param("pos", [1, 2, 1, 1, 1]);
  const row = g.input("row", "float32", [3, 1]);
  g.output("e1", ops.expand(row, [2, 3, 4]));
  g.output("e2", ops.expand(p, x.shape)); // [B, 2, F, H, W] read at run time from x
  g.output("sum", ops.add(x, ops.expand(p, x.shape)));
  const rng = new Rng(6);
  const pa = randomNd(rng, [1, 2, 1, 1, 1]);
  const ra = randomNd(rng, [3, 1]);
  const s = await compile(g, { pos: pa });
  try {
    for (const shape of [[1, 2, 1, 2, 3], [3, 2, 2, 1, 2]]) {
      const xa = randomNd(rng, shape);
      const got = await s.run(feeds({ x: xa, row: ra }));
      assertExact(got.e1!, ref.expand(ra, [2, 3, 4]), "expand [3, 1] -> [2, 3, 4]");
      assertExact(got.e2!, ref.expand(pa, shape), `expand to [${shape}]`);
      assertExact(got.sum!, ref.cast(ref.add(xa, pa), "float32"), "x + expanded (float32 add is correctly rounded)");
    }
  } finally {
    await s.release();
  }
});

test("gather: embedding lookup with int64 and int32 indices, negative indices, other axes", async () => {
  const rng = new Rng(7);
  const table = randomNd(rng, [10, 6]); // [vocab, dim]
  const ids = nd([2, 5], [0, 3, 9, 3, 1, 7, 7, -1, 2, 5]); // [B, L], -1 is the last row
  const cols = nd([3], [5, 0, 2]);
  const got = await runOnce((g) => {
    const tv = g.param("token_embedding.weight", [10, 6]);
    return {
      emb: ops.gather(tv, g.input("ids", "int64", [2, 5])),
      emb32: ops.gather(tv, g.input("ids32", "int32", [2, 5])),
      picked: ops.gather(tv, g.input("cols", "int64", [3]), 1),
      one: ops.gather(tv, g.constant(Tensor.int64([4], [])), 0),
    };
  }, { ids: toTensor(ids, "int64"), ids32: toTensor(ids, "int32"), cols: toTensor(cols, "int64") }, { "token_embedding.weight": table });
  assertExact(got.emb!, ref.gather(table, ids, 0), "embedding int64");
  assertExact(got.emb32!, ref.gather(table, ids, 0), "embedding int32");
  assertExact(got.picked!, ref.gather(table, cols, 1), "gather axis 1");
  assertExact(got.one!, ref.gather(table, nd([], [4]), 0), "scalar index");
  assert.deepEqual(got.emb!.shape, [2, 5, 6]);
  assert.deepEqual(got.one!.shape, [6]);
});

test("resizeNearest by integer factors, 4-D and 5-D, static and symbolic", async () => {
  const g = new Graph("resize");
  const img = g.input("img", "float32", [1, 2, 3, 5]);
  const vid = g.input("vid", "float32", ["B", 2, "F", "H", "W"]);
  g.output("up2", ops.resizeNearest(img, [1, 1, 2, 2]));
  g.output("upHW", ops.resizeNearest(img, [1, 1, 3, 1]));
  const upVid = ops.resizeNearest(vid, [1, 1, 1, 2, 2]);
  assert.deepEqual(upVid.shape, ["B", 2, "F", "2*H", "2*W"]);
  g.output("upVid", upVid);
  g.output("upT", ops.resizeNearest(vid, [1, 1, 2, 1, 3]));
  const rng = new Rng(8);
  const ia = randomNd(rng, [1, 2, 3, 5]);
  const s = await compile(g);
  try {
    for (const shape of [[1, 2, 1, 2, 3], [2, 2, 3, 3, 2]]) {
      const va = randomNd(rng, shape);
      const got = await s.run(feeds({ img: ia, vid: va }));
      assertExact(got.up2!, ref.resizeNearest(ia, [1, 1, 2, 2]), "2x");
      assertExact(got.upHW!, ref.resizeNearest(ia, [1, 1, 3, 1]), "3x on H");
      assertExact(got.upVid!, ref.resizeNearest(va, [1, 1, 1, 2, 2]), `video [${shape}] 2x spatial`);
      assertExact(got.upT!, ref.resizeNearest(va, [1, 1, 2, 1, 3]), `video [${shape}] 2x frames, 3x W`);
    }
  } finally {
    await s.release();
  }
});

test("shape op build errors: element counts, axes, permutations, split sizes", () => {
  const g = new Graph("errors");
  const x = g.input("x", "float32", ["B", 4, "F", "H", "W"]);
  const s = g.input("s", "float32", [2, 3, 4]);
  assert.throws(() => ops.reshape(s, [5, 5], "to_tokens"), (e: Error) => {
    assert.ok(e instanceof GraphShapeError);
    assert.match(e.message, /Reshape to_tokens: cannot reshape float32\[2, 3, 4\] \(24 elements\) to \[5, 5\] \(25 elements\)/);
    return true;
  });
  assert.throws(() => ops.reshape(x, ["B", "F", "H", "W"]), /cannot reshape float32\[B, 4, F, H, W\] \(4\*B\*F\*H\*W elements\) to \[B, F, H, W\]/);
  assert.throws(() => ops.reshape(s, [5, -1]), /cannot infer -1: float32\[2, 3, 4\] has 24 elements, not a multiple of 5/);
  assert.throws(() => ops.reshape(s, [-1, -1]), /at most one -1/);
  assert.throws(() => ops.transpose(s, [0, 0, 1]), /Transpose: perm \[0, 0, 1\] is not a permutation of the 3 axes of float32\[2, 3, 4\]/);
  assert.throws(() => ops.concat([s, g.input("t", "float32", [2, 5, 4])], 0), /Concat: inputs float32\[2, 3, 4\] and float32\[2, 5, 4\] differ on axis 1 \(concat axis 0\)/);
  assert.throws(() => ops.concat([s, s], 3), /Concat: axis 3 is out of range for rank 3/);
  assert.throws(() => ops.slice(s, -4, 0), /Slice: axis -4 is out of range for rank 3/);
  assert.throws(() => ops.slice(s, 0, 0, 1, 0), /step must be a non-zero integer, got 0/);
  assert.throws(() => ops.slice(x, 2, 0, undefined, 2), /only step 1 on symbolic axis 2 \(F\)/);
  assert.throws(() => ops.split(s, 1, [1, 1]), /Split: sizes \[1, 1\] sum to 2, axis 1 of float32\[2, 3, 4\] has 3/);
  assert.throws(() => ops.split(s, 1, { parts: 2 }), /axis 1 of float32\[2, 3, 4\] does not split into 2 equal parts/);
  assert.throws(() => ops.expand(s, [2, 5, 4]), /Expand: cannot expand float32\[2, 3, 4\] to \[2, 5, 4\] \(axis 1: 3 vs 5\)/);
  assert.throws(() => ops.squeeze(s, [1]), /Squeeze: axis 1 of float32\[2, 3, 4\] is not 1/);
  assert.throws(() => ops.unsqueeze(s, [4]), /Unsqueeze: axis 4 is out of range for rank 4/);
  assert.throws(() => ops.gather(s, s), /Gather: indices must be int64 or int32, got float32\[2, 3, 4\]/);
  assert.throws(() => ops.resizeNearest(s, [1, 2]), /Resize: needs 3 scales for float32\[2, 3, 4\], got \[1, 2\]/);
  assert.throws(() => ops.resizeNearest(s, [1, 1.5, 2]), /scales \[1, 1.5, 2\] must be positive integers/);
});

test("repeated axes are refused by unsqueeze and squeeze, directly or through a negative index", () => {
  const g = new Graph("repeats");
  const x = g.input("x", "float32", [1, 3]);
  for (const [build, pattern] of [
    [() => ops.unsqueeze(x, [0, 0], "expand_dims"), /Unsqueeze expand_dims: axes \[0, 0\] name axis 0 more than once \(rank 4\)/],
    [() => ops.unsqueeze(x, [1, -3]), /Unsqueeze: axes \[1, -3\] name axis 1 more than once/],
    [() => ops.squeeze(x, [0, 0]), /Squeeze: axes \[0, 0\] name axis 0 more than once \(rank 2\)/],
    [() => ops.squeeze(x, [0, -2]), /Squeeze: axes \[0, -2\] name axis 0 more than once/],
  ] as const) {
    assert.throws(build, (e: unknown) => e instanceof GraphShapeError && pattern.test(e.message));
  }
});

test("slice on a symbolic axis: an empty range runs empty; a bound past the axis is refused before running", async () => {
  const g = new Graph("symbolic_bounds");
  const x = g.input("x", "float32", ["F", 3]);
  g.output("empty", ops.slice(x, 0, 5, 2)); // [0, 3] whatever F is
  g.output("head", ops.slice(x, 0, 0, 4, 1, "head")); // [4, 3]: needs F >= 4
  const s = await compile(g);
  try {
    const xa = randomNd(new Rng(8), [6, 3]);
    const got = await s.run(feeds({ x: xa }));
    assert.deepEqual(got.empty!.shape, [0, 3]);
    assertExact(got.head!, ref.slice(xa, 0, 0, 4), "x[0:4]");
    const short = feeds({ x: randomNd(new Rng(9), [3, 3]) });
    assert.deepEqual(s.check(short), ["Slice head needs F >= 4, but F = 3 (input x axis 0)"]);
  } finally {
    await s.release();
  }
});
