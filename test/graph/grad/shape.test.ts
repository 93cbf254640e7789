// Backward rules of the shape ops against central finite differences. Static cases check each rule
// alone; symbolic cases build the forward on [B, C, F, H, W]-style inputs (so the backward reads sizes at
// run time) and contract the symbolic axes with a weight input w of the output's shape, sum(y * w), which
// leaves gradCheck a static output while every element of y still gets its own random weight.

import { test } from "node:test";
import assert from "node:assert/strict";
import { type Dim, Graph, type Value, ops } from "../../../src/graph/index.js";
import { gradients } from "../../../src/graph/autodiff.js";
import { Tensor } from "../../../src/tensor/tensor.js";
import { type GradCase, gradCheck, randomTensor } from "./gradcheck.js";

const int64 = (shape: number[], values: number[]) => new Tensor("int64", BigInt64Array.from(values, BigInt), shape);

/** sum over y's symbolic axes of y * w, w a fresh input of y's (symbolic) shape fed with `concrete`. */
function contractSymbolic(g: Graph, y: Value, concrete: number[], name: string, seed: number): { output: Value; feed: Record<string, Tensor> } {
  assert.equal(concrete.length, y.rank, `${name}: concrete shape [${concrete}] for ${y.describe()}`);
  y.shape.forEach((d, i) => typeof d === "number" && assert.equal(concrete[i], d, `${name}: axis ${i} of ${y.describe()}`));
  const w = g.input(name, "float32", y.shape);
  const symbolic = y.shape.flatMap((d, i) => (typeof d === "number" ? [] : [i]));
  return { output: ops.reduceSum(ops.mul(y, w), symbolic, false), feed: { [name]: randomTensor(concrete, seed) } };
}

/** One static case per rule and form: the function of x (and friends) whose gradient is checked. */
const staticCases: [string, (g: Graph) => GradCase][] = [
  ["reshape [2, 3, 4] -> [4, -1]", (g) => {
    const x = g.input("x", "float32", [2, 3, 4]);
    return { output: ops.reshape(x, [4, -1]), feeds: { x: randomTensor([2, 3, 4], 1) }, wrt: [x] };
  }],
  ["transpose [2, 0, 1]", (g) => {
    const x = g.input("x", "float32", [2, 3, 4]);
    return { output: ops.transpose(x, [2, 0, 1]), feeds: { x: randomTensor([2, 3, 4], 2) }, wrt: [x] };
  }],
  ["concat of three on axis 1, one input not differentiated", (g) => {
    const [a, b, c] = [g.input("a", "float32", [2, 2, 3]), g.input("b", "float32", [2, 1, 3]), g.input("c", "float32", [2, 3, 3])];
    return {
      output: ops.concat([a, b, c], 1),
      feeds: { a: randomTensor([2, 2, 3], 3), b: randomTensor([2, 1, 3], 4), c: randomTensor([2, 3, 3], 5) },
      wrt: [a, b],
    };
  }],
  ["concat on axis -1 with the same input twice (gradients add)", (g) => {
    const a = g.input("a", "float32", [3, 2]);
    return { output: ops.concat([a, ops.mul(a, a), a], -1), feeds: { a: randomTensor([3, 2], 6) }, wrt: [a] };
  }],
  ["split into sizes [1, 2, 3], middle piece unused (zeros)", (g) => {
    const x = g.input("x", "float32", [2, 6]);
    const [s0, , s2] = ops.split(x, 1, [1, 2, 3]);
    return { output: ops.concat([ops.mul(s2!, s2!), s0!], 1), feeds: { x: randomTensor([2, 6], 7) }, wrt: [x] };
  }],
  ["split into two equal parts on axis 0", (g) => {
    const x = g.input("x", "float32", [4, 3]);
    const [top, bottom] = ops.split(x, 0, { parts: 2 });
    return { output: ops.mul(top!, ops.exp(bottom!)), feeds: { x: randomTensor([4, 3], 8) }, wrt: [x] };
  }],
  ["expand [3, 1] -> [2, 3, 4]", (g) => {
    const x = g.input("x", "float32", [3, 1]);
    return { output: ops.expand(x, [2, 3, 4]), feeds: { x: randomTensor([3, 1], 9) }, wrt: [x] };
  }],
  ["unsqueeze [0, 3] then squeeze [2]", (g) => {
    const x = g.input("x", "float32", [2, 1, 3]);
    return { output: ops.squeeze(ops.unsqueeze(x, [0, 3]), [2]), feeds: { x: randomTensor([2, 1, 3], 10) }, wrt: [x] };
  }],
  ["gather axis 0, int64 indices with repeats and a negative index (gradients accumulate)", (g) => {
    const table = g.input("table", "float32", [5, 4]);
    const ids = g.constant(int64([2, 3], [1, 3, 1, 1, 0, -1]));
    return { output: ops.gather(table, ids), feeds: { table: randomTensor([5, 4], 11) }, wrt: [table] };
  }],
  ["gather axis 0, int32 indices fed at run time", (g) => {
    const table = g.input("table", "float32", [4, 3]);
    const ids = g.input("ids", "int32", [5]);
    return {
      output: ops.gather(table, ids),
      feeds: { table: randomTensor([4, 3], 12), ids: new Tensor("int32", Int32Array.of(2, 2, 0, 3, 2), [5]) },
      wrt: [table],
    };
  }],
  ["gather axis 1 with a 2-D index and repeats", (g) => {
    const x = g.input("x", "float32", [3, 4, 2]);
    const ids = g.constant(int64([2, 2], [2, 2, 0, 3]));
    return { output: ops.gather(x, ids, 1), feeds: { x: randomTensor([3, 4, 2], 13) }, wrt: [x] };
  }],
  ["gather axis 2 of 3 (the axis moves to the front and back)", (g) => {
    const x = g.input("x", "float32", [2, 3, 4]);
    const ids = g.constant(int64([3], [3, 1, 3]));
    return { output: ops.gather(x, ids, 2), feeds: { x: randomTensor([2, 3, 4], 131) }, wrt: [x] };
  }],
  ["gather axis -1 with a scalar index", (g) => {
    const x = g.input("x", "float32", [3, 4]);
    return { output: ops.gather(x, g.constant(int64([], [2])), -1), feeds: { x: randomTensor([3, 4], 14) }, wrt: [x] };
  }],
  ["resizeNearest [1, 1, 2, 3] on [1, 2, 3, 2]", (g) => {
    const x = g.input("x", "float32", [1, 2, 3, 2]);
    return { output: ops.resizeNearest(x, [1, 1, 2, 3]), feeds: { x: randomTensor([1, 2, 3, 2], 15) }, wrt: [x] };
  }],
  ["resizeNearest [2, 1] on [2, 3]", (g) => {
    const x = g.input("x", "float32", [2, 3]);
    return { output: ops.resizeNearest(x, [2, 1]), feeds: { x: randomTensor([2, 3], 16) }, wrt: [x] };
  }],
];

for (const [name, build] of staticCases) {
  test(`gradient of ${name} matches finite differences`, async () => {
    await gradCheck(build);
  });
}

test("gradient of slice: steps 1, -1, 2, -2, 3, clamped and empty ranges (static)", async () => {
  // [axis, start, end, step] on x [3, 7], as Python x[start:end:step]
  const cases: [number, number, number | undefined, number][] = [
    [1, 1, 5, 1], [1, -3, undefined, 1], [0, 1, 100, 1], [1, 5, 0, -1], [0, 2, undefined, -1], [1, -1, -100, -1],
    [1, 0, undefined, 2], [1, 1, 6, 3], [1, 1, 5, 2], [1, -1, undefined, -2], [1, 6, 1, -3],
  ];
  await gradCheck((g) => {
    const x = g.input("x", "float32", [3, 7]);
    const flat = cases.map(([axis, start, end, step]) => ops.reshape(ops.slice(x, axis, start, end, step), [-1]));
    // An empty slice, joined to a non-empty one before flattening (the reshape builder writes a static 0 as
    // ONNX's copy-this-dim 0, so [3, 0] cannot be reshaped to [0])
    const empty = ops.slice(x, 1, 4, 2);
    assert.deepEqual(empty.shape, [3, 0]);
    flat.push(ops.reshape(ops.concat([empty, ops.slice(x, 1, 0, 2)], 1), [-1]));
    return { output: ops.concat(flat, 0), feeds: { x: randomTensor([3, 7], 17) }, wrt: [x] };
  }, { maxElements: 21 });
});

test("gradient of one Slice node over two axes, one with step -2", async () => {
  await gradCheck((g) => {
    const x = g.input("x", "float32", [4, 6, 5]);
    const i64 = (v: number[]) => ops.int64s(g, v);
    // x[1:3, :, 4:0:-2]: positions 1, 2 of axis 0 and 4, 2 of axis 2
    const [y] = g.addNode("Slice", [x, i64([1, -1]), i64([3, 0]), i64([0, 2]), i64([1, -2])], {}, [{ dtype: "float32", shape: [2, 6, 2] }]);
    return { output: y!, feeds: { x: randomTensor([4, 6, 5], 18) }, wrt: [x] };
  }, { maxElements: 120 });
});

test("[B, C, F, H, W] -> [B*F, C, H, W] -> per-frame layer -> back, as models do it (symbolic, two sizes)", async () => {
  for (const [B, F, H, W] of [[2, 3, 2, 2], [1, 2, 3, 1]] as const) {
    await gradCheck((g) => {
      const x = g.input("x", "float32", ["B", 3, "F", "H", "W"]);
      const scale = g.param("frame.scale", [3, 1, 1]);
      const perFrame = ops.reshape(ops.transpose(x, [0, 2, 1, 3, 4]), ["B*F", 3, "H", "W"]); // [B*F, C, H, W]
      const h = ops.tanh(ops.mul(perFrame, scale));
      const back = ops.transpose(ops.reshape(h, ["B", "F", 3, "H", "W"]), [0, 2, 1, 3, 4]); // [B, C, F, H, W]
      assert.deepEqual(back.shape, x.shape);
      const { output, feed } = contractSymbolic(g, back, [B, 3, F, H, W], "w", 20);
      return { output, feeds: { x: randomTensor([B, 3, F, H, W], 19), "frame.scale": randomTensor([3, 1, 1], 21), ...feed }, wrt: [x, scale] };
    });
  }
});

test("concat along the frame axis: F + F = 2*F and F + G (opaque), split at run-time sizes", async () => {
  for (const [B, F, G] of [[1, 2, 3], [2, 3, 1]] as const) {
    await gradCheck((g) => {
      const a = g.input("a", "float32", ["B", 2, "F", 3]);
      const b = g.input("b", "float32", ["B", 2, "F", 3]);
      const c = g.input("c", "float32", ["B", 2, "G", 3]);
      const twice = ops.concat([a, ops.exp(b)], 2);
      assert.deepEqual(twice.shape, ["B", 2, "2*F", 3]);
      const mixed = ops.concat([c, a], -2); // [B, 2, (G+F), 3]
      const y1 = contractSymbolic(g, twice, [B, 2, 2 * F, 3], "w1", 31);
      const y2 = contractSymbolic(g, mixed, [B, 2, G + F, 3], "w2", 32);
      return {
        output: ops.add(y1.output, y2.output),
        feeds: { a: randomTensor([B, 2, F, 3], 33), b: randomTensor([B, 2, F, 3], 34), c: randomTensor([B, 2, G, 3], 35), ...y1.feed, ...y2.feed },
        wrt: [a, b, c],
      };
    });
  }
});

test("split along the frame axis (symbolic F/2 halves), one half unused", async () => {
  const [B, F] = [2, 4];
  await gradCheck((g) => {
    const x = g.input("x", "float32", ["B", 2, "F", 3]);
    const [first, second] = ops.split(x, 2, { parts: 2 }); // 2 x [B, 2, F/2, 3]
    const swapped = ops.concat([second!, ops.mul(first!, first!)], 2);
    assert.deepEqual(swapped.shape, x.shape);
    const y1 = contractSymbolic(g, swapped, [B, 2, F, 3], "w1", 41);
    const [, onlySecond] = ops.split(ops.exp(x), 2, { parts: 2 });
    const y2 = contractSymbolic(g, onlySecond!, [B, 2, F / 2, 3], "w2", 42);
    return { output: ops.add(y1.output, y2.output), feeds: { x: randomTensor([B, 2, F, 3], 43), ...y1.feed, ...y2.feed }, wrt: [x] };
  });
});

test("slice on a symbolic frame axis: x[1:], x[0:2], x[-2:], x[1:-1] pad back at run time", async () => {
  for (const [B, F] of [[1, 4], [2, 5]] as const) {
    await gradCheck((g) => {
      const x = g.input("x", "float32", ["B", 2, "F", 3]);
      const pieces: [Value, number][] = [
        [ops.slice(x, 2, 1), F - 1], [ops.slice(x, 2, 0, 2), 2], [ops.slice(x, 2, -2), 2], [ops.slice(x, 2, 1, -1), F - 2],
      ];
      const contracted = pieces.map(([y, len], i) => contractSymbolic(g, y, [B, 2, len, 3], `w${i}`, 50 + i));
      const output = contracted.map((c) => c.output).reduce((s, o) => ops.add(s, o));
      return { output, feeds: Object.assign({ x: randomTensor([B, 2, F, 3], 55) }, ...contracted.map((c) => c.feed)), wrt: [x] };
    });
  }
});

test("expand of a parameter to a symbolic shape; unsqueeze / squeeze on symbolic dims", async () => {
  const [B, F] = [2, 3];
  await gradCheck((g) => {
    const x = g.input("x", "float32", ["B", 2, "F", 3]);
    const pos = g.param("pos", [1, 2, 1, 3]);
    const y = ops.squeeze(ops.unsqueeze(ops.mul(x, ops.expand(pos, x.shape)), [1, -1]), [1]); // [B, 2, F, 3, 1]
    const { output, feed } = contractSymbolic(g, y, [B, 2, F, 3, 1], "w", 61);
    return { output, feeds: { x: randomTensor([B, 2, F, 3], 62), pos: randomTensor([1, 2, 1, 3], 63), ...feed }, wrt: [x, pos] };
  });
});

test("gather with symbolic [B, L] indices into a static table", async () => {
  await gradCheck((g) => {
    const table = g.param("token_embedding.weight", [4, 3]);
    const ids = g.input("ids", "int64", ["B", "L"]);
    const { output, feed } = contractSymbolic(g, ops.gather(table, ids), [2, 3, 3], "w", 71);
    return { output, feeds: { "token_embedding.weight": randomTensor([4, 3], 72), ids: int64([2, 3], [3, 0, 3, 1, 3, 0]), ...feed }, wrt: [table] };
  });
});

test("resizeNearest on symbolic [B, C, F, H, W]: 2x spatial, 2x frames and 3x W", async () => {
  const [B, F, H, W] = [1, 2, 2, 3];
  await gradCheck((g) => {
    const x = g.input("x", "float32", ["B", 2, "F", "H", "W"]);
    const up = ops.resizeNearest(x, [1, 1, 1, 2, 2]);
    const upT = ops.resizeNearest(x, [1, 1, 2, 1, 3]);
    const y1 = contractSymbolic(g, up, [B, 2, F, 2 * H, 2 * W], "w1", 81);
    const y2 = contractSymbolic(g, upT, [B, 2, 2 * F, H, 3 * W], "w2", 82);
    return { output: ops.add(y1.output, y2.output), feeds: { x: randomTensor([B, 2, F, H, W], 83), ...y1.feed, ...y2.feed }, wrt: [x] };
  });
});

test("unsupported forms fail with an error that names the node", () => {
  const g = new Graph("unsupported");
  const x = g.input("x", "float32", ["B", "F"]);
  const i64 = (v: number[]) => ops.int64s(g, v);
  const strided: Dim[] = ["B", "F/2"];
  const [y] = g.addNode("Slice", [x, i64([0]), i64([Number.MAX_SAFE_INTEGER]), i64([1]), i64([2])], {}, [{ dtype: "float32", shape: strided }], "frames.every_other");
  assert.throws(
    () => gradients(ops.reduceSum(y!, [0, 1], false), [x]),
    /gradients frames\.every_other: Slice backward supports only step 1 on symbolic axis 1 \(F\) of float32\[B, F\], got step 2/,
  );
  const scales = g.constant(new Tensor("float32", Float32Array.of(1, 2), [2]));
  const [z] = g.addNode("Resize", [x, null, scales], { mode: { type: "string", value: "linear" } }, [{ dtype: "float32", shape: ["B", "2*F"] }], "up.linear");
  assert.throws(() => gradients(ops.reduceSum(z!, [0, 1], false), [x]), /gradients up\.linear: Resize backward supports only nearest/);
});

test("gradient of pad: positive, negative (cropping) and mixed static pads; symbolic axes; run-time pads; the fill value", async () => {
  // pads in ONNX order: begin of each axis, then end of each axis
  for (const pads of [[1, 0, 2, 1, 0, 3], [-1, 0, 0, 0, 1, -2], [0, -1, 1, 2, 1, -1]]) {
    await gradCheck((g) => {
      const x = g.input("x", "float32", [3, 4, 5]);
      return { output: ops.pad(x, pads, 0.5), feeds: { x: randomTensor([3, 4, 5], 90) }, wrt: [x] };
    });
  }
  for (const [B, F] of [[1, 3], [2, 4]] as const) {
    await gradCheck((g) => {
      const x = g.input("x", "float32", ["B", 2, "F", 3]);
      const y = ops.pad(x, [0, 0, 1, -1, 0, 1, 2, 0]); // [B, 3, F+3, 2]
      const { output, feed } = contractSymbolic(g, y, [B, 3, F + 3, 2], "w", 91);
      return { output, feeds: { x: randomTensor([B, 2, F, 3], 92), ...feed }, wrt: [x] };
    });
  }
  // pads known only at run time (a 1-element int64 value per entry): the gradient negates them at run time
  await gradCheck((g) => {
    const x = g.input("x", "float32", [2, 3]);
    const before = g.input("before", "int64", [1]);
    const after = g.input("after", "int64", [1]);
    const y = ops.pad(x, [0, before, 0, after]); // [2, 3 + before + after], its last axis opaque
    const { output, feed } = contractSymbolic(g, y, [2, 2], "w", 93);
    return { output, feeds: { x: randomTensor([2, 3], 94), before: int64([1], [1]), after: int64([1], [-2]), ...feed }, wrt: [x] };
  });
  // a fill value that is itself differentiated gets the sum of gy where it was placed
  await gradCheck((g) => {
    const x = g.input("x", "float32", [2, 3]);
    const c = g.input("c", "float32", []);
    const [y] = g.addNode("Pad", [x, ops.int64s(g, [1, 0, 0, 2]), c], { mode: { type: "string", value: "constant" } }, [{ dtype: "float32", shape: [3, 5] }]);
    return { output: ops.mul(y!, y!), feeds: { x: randomTensor([2, 3], 95), c: randomTensor([], 96) }, wrt: [x, c] };
  });
});
