import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { Graph, ops, emitOnnx, writeOnnx, GraphWeightsError } from "../../src/graph/index.js";
import { onnxType } from "../../src/graph/onnx/proto.js";
import { Session } from "../../src/runtime/index.js";
import { Tensor } from "../../src/tensor/tensor.js";

function linearGraph(): Graph {
  const g = new Graph("lin");
  const x = g.input("x", "float32", ["B", 300]);
  const w = g.param("fc.weight", [400, 300]);
  const b = g.param("fc.bias", [400], "float32", false);
  g.param("unused.weight", [7]);
  ops.exp(x); // a node no output needs
  g.output("y", ops.linear(x, w, b));
  return g;
}

function ramp(n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * scale);
}

const weights = new Map([
  ["fc.weight", Tensor.float32(ramp(400 * 300, 0.05), [400, 300])],
  ["fc.bias", Tensor.float32(ramp(400, 1), [400])],
]);

function expected(x: Float32Array, batch: number): Float64Array {
  const w = weights.get("fc.weight")!.data as Float32Array;
  const b = weights.get("fc.bias")!.data as Float32Array;
  const out = new Float64Array(batch * 400);
  for (let n = 0; n < batch; n++)
    for (let o = 0; o < 400; o++) {
      let s = b[o]!;
      for (let i = 0; i < 300; i++) s += x[n * 300 + i]! * w[o * 300 + i]!;
      out[n * 400 + o] = s;
    }
  return out;
}

function assertNear(got: Float32Array, want: Float64Array): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-4 * (1 + Math.abs(want[i]!)), `index ${i}: ${got[i]} vs ${want[i]}`);
}

test("emitted ModelProto: opset 17, baked initializers, only live nodes, symbolic input dims", () => {
  const m = emitOnnx(linearGraph(), { weights });
  const Model = onnxType("ModelProto");
  const decoded = Model.toObject(Model.decode(m.bytes), { longs: Number, bytes: Array }) as any;
  assert.equal(decoded.opsetImport[0].version, 17);
  assert.equal(decoded.irVersion, 8);
  const inits = decoded.graph.initializer.map((t: any) => t.name);
  assert.ok(inits.includes("fc.weight") && inits.includes("fc.bias"));
  assert.ok(!inits.includes("unused.weight"), "a parameter no output needs is not emitted");
  assert.ok(!decoded.graph.node.some((n: any) => n.opType === "Exp"), "dead nodes are dropped");
  assert.deepEqual(decoded.graph.input.map((i: any) => i.name), ["x"]);
  const dims = decoded.graph.input[0].type.tensorType.shape.dim;
  assert.equal(dims[0].dimParam, "B");
  assert.equal(dims[1].dimValue, 300);
  assert.equal(m.external, null);
});

test("missing, misshapen and mistyped weights are all reported at once", () => {
  const bad = new Map([["fc.weight", Tensor.float32(new Float32Array(300 * 400), [300, 400])]]);
  assert.throws(() => emitOnnx(linearGraph(), { weights: bad }), (e: unknown) => {
    assert.ok(e instanceof GraphWeightsError);
    assert.match(e.message, /2 weight problem/);
    assert.match(e.message, /fc\.weight: expected float32\[400, 300\], got float32\[300, 400\]/);
    assert.match(e.message, /missing fc\.bias/);
    return true;
  });
});

test("parameters as graph inputs (training): all, or only the trainable ones", async () => {
  const g = linearGraph();
  const all = emitOnnx(g, { paramsAsInputs: "all" });
  assert.deepEqual(all.paramInputs, ["fc.weight", "fc.bias"]);
  const trainable = emitOnnx(g, { paramsAsInputs: "trainable", weights });
  assert.deepEqual(trainable.paramInputs, ["fc.weight"]);
  const s = await Session.fromGraph(g, { paramsAsInputs: "trainable", weights, threads: 1 });
  const x = ramp(2 * 300, 1);
  const { y } = await s.run({ x: Tensor.float32(x, [2, 300]), "fc.weight": weights.get("fc.weight")! });
  assertNear(y!.data as Float32Array, expected(x, 2));
  await s.release();
});

test("external data: weights in a side file, loaded from the model path, same results", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vidrd-emit-"));
  try {
    const path = join(dir, "lin.onnx");
    const m = writeOnnx(linearGraph(), path, { weights, externalData: "always" });
    assert.ok(m.external);
    assert.equal(m.external.fileName, "lin.onnx.data");
    // the big weight is outside the ModelProto; the small bias (1.6 KB) is too
    assert.ok(statSync(path).size < 10_000, `model file is ${statSync(path).size} bytes`);
    assert.ok(statSync(join(dir, "lin.onnx.data")).size >= 400 * 300 * 4);
    assert.deepEqual(readdirSync(dir).sort(), ["lin.onnx", "lin.onnx.data"], "no temporary files left");
    const s = await Session.fromFile(path, { threads: 1 });
    assert.deepEqual(s.inputs.map((i) => [i.name, i.dtype, i.shape]), [["x", "float32", ["B", 300]]]);
    const x = ramp(3 * 300, 1);
    const { y } = await s.run({ x: Tensor.float32(x, [3, 300]) });
    assertNear(y!.data as Float32Array, expected(x, 3));
    await s.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("auto external data past the threshold also works through fromGraph (temporary model dir removed)", async () => {
  const before = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith("vidrd-model-")));
  const s = await Session.fromGraph(linearGraph(), { weights, externalThreshold: 1000, threads: 1 });
  const x = ramp(300, 1);
  const { y } = await s.run({ x: Tensor.float32(x, [1, 300]) });
  assertNear(y!.data as Float32Array, expected(x, 1));
  await s.release();
  const after = readdirSync(tmpdir()).filter((f) => f.startsWith("vidrd-model-") && !before.has(f));
  assert.deepEqual(after, []);
});

test("an output that is a graph input or is named twice goes through Identity", async () => {
  const g = new Graph("id");
  const x = g.input("x", "float32", [2]);
  const y = ops.mul(x, 3);
  g.output("same", x);
  g.output("a", y);
  g.output("b", y);
  const s = await Session.fromGraph(g, { threads: 1 });
  const r = await s.run({ x: Tensor.float32([1, 2]) });
  assert.deepEqual([...r.same!.data], [1, 2]);
  assert.deepEqual([...r.a!.data], [3, 6]);
  assert.deepEqual([...r.b!.data], [3, 6]);
  await s.release();
});

test("user names that look like internal ones (v<id>, const_<id>) do not collide with emitted values", async () => {
  const g = new Graph("names");
  // ids are given in creation order: inputs 0 and 1, the constant 2 is 2, the first Mul's output is 4
  const a = g.input("v4", "float32", [2]);
  const b = g.input("const_2", "float32", [2]);
  g.output("v6", ops.mul(ops.mul(a, 2), b));
  const m = emitOnnx(g);
  const Model = onnxType("ModelProto");
  const decoded = Model.toObject(Model.decode(m.bytes), { longs: Number, bytes: Array }) as any;
  const produced = [...decoded.graph.initializer.map((t: any) => t.name), ...decoded.graph.node.flatMap((n: any) => n.output)];
  assert.deepEqual(produced.filter((n: string) => ["v4", "const_2"].includes(n)), [], "only the inputs carry user names");
  const s = await Session.fromGraph(g, { threads: 1 });
  try {
    const r = await s.run({ v4: Tensor.float32([1, 2]), const_2: Tensor.float32([10, 100]) });
    assert.deepEqual([...r.v6!.data], [20, 400]);
  } finally {
    await s.release();
  }
});

test("reshapes and row slices of baked weights are emitted as initializers sharing their bytes", async () => {
  const g = new Graph("fold");
  const x = g.input("x", "float32", [2, 3]);
  const w = g.param("proj.weight", [4, 3]);
  const k = g.param("temporal.weight", [2, 1, 3, 1, 1]);
  const top = ops.slice(w, 0, 0, 2); // rows 0..1 of the weight
  const bottom = ops.slice(w, 0, 2, 4); // rows 2..3
  const kernel = ops.reshape(k, [2, 1, 3, 1]); // the (3,1,1) kernel seen as 2-D
  g.output("a", ops.mul(ops.linear(x, top), ops.linear(x, bottom)));
  g.output("c", ops.conv(ops.reshape(x, [2, 1, 3, 1]), kernel, null, { padding: [1, 0, 1, 0] }));
  const wData = Float32Array.from({ length: 12 }, (_, i) => i * 0.1 - 0.5);
  const kData = Float32Array.from([0.5, -1, 2, 1, 0.25, -0.5]);
  const weights = new Map([
    ["proj.weight", Tensor.float32(wData, [4, 3])],
    ["temporal.weight", Tensor.float32(kData, [2, 1, 3, 1, 1])],
  ]);
  const m = emitOnnx(g, { weights });
  const Model = onnxType("ModelProto");
  const decoded = Model.toObject(Model.decode(m.bytes), { longs: Number, bytes: Array }) as any;
  const inits = decoded.graph.initializer.map((t: any) => `${t.name.startsWith("%") ? "view" : t.name}:[${t.dims.join(",")}]`).sort();
  assert.deepEqual(inits.filter((s: string) => !s.endsWith(":[1]") && !s.endsWith(":[4]") && !s.endsWith(":[2]")), ["view:[2,1,3,1]", "view:[2,3]", "view:[2,3]"]);
  assert.ok(!decoded.graph.node.some((n: any) => n.opType === "Slice"), "no Slice left for the weights");
  assert.ok(!decoded.graph.initializer.some((t: any) => t.name === "proj.weight" || t.name === "temporal.weight"), "the folded parameters themselves are not emitted");
  const s = await Session.fromGraph(g, { weights, threads: 1 });
  const xs = Float32Array.from([1, 2, 3, -1, 0.5, 0]);
  const r = await s.run({ x: Tensor.float32(xs, [2, 3]) });
  await s.release();
  // a[n, j] = (x[n] . w[j]) * (x[n] . w[j + 2]) for j in 0..1
  const dot = (n: number, row: number) => xs[n * 3]! * wData[row * 3]! + xs[n * 3 + 1]! * wData[row * 3 + 1]! + xs[n * 3 + 2]! * wData[row * 3 + 2]!;
  const a = r.a!.data as Float32Array;
  for (let n = 0; n < 2; n++) for (let j = 0; j < 2; j++) assert.ok(Math.abs(a[n * 2 + j]! - dot(n, j) * dot(n, j + 2)) < 1e-5);
  // c[n, o, f] = sum_k k[o, k] * x[n, f + k - 1] (zero padded)
  const c = r.c!.data as Float32Array;
  for (let n = 0; n < 2; n++)
    for (let o = 0; o < 2; o++)
      for (let f = 0; f < 3; f++) {
        let want = 0;
        for (let t = 0; t < 3; t++) {
          const src = f + t - 1;
          if (src >= 0 && src < 3) want += kData[o * 3 + t]! * xs[n * 3 + src]!;
        }
        assert.ok(Math.abs(c[(n * 2 + o) * 3 + f]! - want) < 1e-5, `c[${n},${o},${f}]`);
      }
});
