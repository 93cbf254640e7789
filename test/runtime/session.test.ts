import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, ops } from "../../src/graph/index.js";
import { RuntimeUnavailableError, Session, SessionInputError } from "../../src/runtime/index.js";
import { Tensor } from "../../src/tensor/tensor.js";

async function twoInputSession(): Promise<Session> {
  const g = new Graph("two");
  const z = g.input("z", "float32", ["B", 4, "F", "H", "W"]);
  const emb = g.input("emb", "float32", ["B", 77, 8]);
  const frames = g.input("frames", "float32", ["B*F", 2]);
  // output depends on all inputs so none is pruned
  const s = ops.add(ops.reduceMean(z, [1, 2, 3, 4], false), ops.reduceMean(emb, [1, 2], false));
  g.output("out", ops.add(s, ops.reduceSum(frames, [0, 1], false)));
  return Session.fromGraph(g, { threads: 1 });
}

test("every input problem is reported at once, before running", async () => {
  const s = await twoInputSession();
  const feeds = {
    z: Tensor.float32(new Float32Array(2 * 3 * 8 * 4 * 4), [2, 3, 8, 4, 4]), // channels 3, expected 4
    emb: new Tensor("int32", new Int32Array(3 * 77 * 8), [3, 77, 8]), // dtype and B conflict
    extra: Tensor.float32([1]),
  };
  await assert.rejects(s.run(feeds), (e: unknown) => {
    assert.ok(e instanceof SessionInputError);
    const text = e.message;
    assert.match(text, /unknown input extra; inputs are z, emb, frames/);
    assert.match(text, /input z: axis 1 is 3, expected 4/);
    assert.match(text, /input emb: dtype int32, expected float32/);
    assert.match(text, /input emb: axis 0 \(B\) is 3, but z axis 0 set B = 2/);
    assert.match(text, /missing input frames \(float32\[B\*F, 2\]\)/);
    assert.equal(e.problems.length, 5);
    return true;
  });
  await s.release();
});

test("compound symbolic dims are checked against the bound symbols", async () => {
  const s = await twoInputSession();
  const z = Tensor.zeros("float32", [2, 4, 3, 2, 5]);
  const emb = Tensor.zeros("float32", [2, 77, 8]);
  const bad = s.check({ z, emb, frames: Tensor.zeros("float32", [5, 2]) });
  assert.deepEqual(bad, ["input frames: axis 0 (B*F) is 5, expected 6"]);
  const out = await s.run({ z, emb, frames: Tensor.float32(new Float32Array(12).fill(0.5), [6, 2]) });
  assert.deepEqual([...out.out!.data], [6, 6]);
  await s.release();
});

test("unknown output names are refused", async () => {
  const s = await twoInputSession();
  const z = Tensor.zeros("float32", [1, 4, 1, 1, 1]);
  await assert.rejects(s.run({ z, emb: Tensor.zeros("float32", [1, 77, 8]), frames: Tensor.zeros("float32", [1, 2]) }, ["nope"]), /unknown output nope; outputs are out/);
  await s.release();
});

test("int64, int32, bool, uint8 and float16 tensors cross the runtime boundary intact", async () => {
  const g = new Graph("dtypes");
  const i64 = g.input("i64", "int64", [3]);
  const b = g.input("b", "bool", [3]);
  const u8 = g.input("u8", "uint8", [3]);
  const h = g.input("h", "float16", [3]);
  g.output("i64_out", ops.add(i64, 1));
  g.output("b_out", ops.identity(b));
  g.output("u8_out", ops.identity(u8));
  g.output("h_as_f32", ops.cast(h, "float32"));
  g.output("i32_out", ops.cast(i64, "int32"));
  const s = await Session.fromGraph(g, { threads: 1 });
  // float16 bit patterns: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800
  const r = await s.run({
    i64: Tensor.int64([5, -7, 2 ** 40]),
    b: new Tensor("bool", Uint8Array.of(1, 0, 1), [3]),
    u8: new Tensor("uint8", Uint8Array.of(0, 200, 255), [3]),
    h: new Tensor("float16", Uint16Array.of(0x3c00, 0xc000, 0x3800), [3]),
  });
  assert.deepEqual([...r.i64_out!.data], [6n, -6n, 2n ** 40n + 1n]);
  assert.equal(r.b_out!.dtype, "bool");
  assert.deepEqual([...r.b_out!.data], [1, 0, 1]);
  assert.deepEqual([...r.u8_out!.data], [0, 200, 255]);
  assert.deepEqual([...r.h_as_f32!.data], [1, -2, 0.5]);
  assert.equal(r.i32_out!.dtype, "int32");
  await s.release();
});

test("device and thread options are validated; cuda without its libraries is a clear error", async () => {
  const g = new Graph("opt");
  g.output("y", ops.neg(g.input("x", "float32", [1])));
  await assert.rejects(Session.fromGraph(g, { threads: 0 }), /threads must be a positive integer, got 0/);
  await assert.rejects(Session.fromGraph(g, { device: "tpu" as never }), /device must be one of cpu, cuda, got tpu/);
  await assert.rejects(Session.fromGraph(g, { device: "cuda" }), (e: unknown) => {
    assert.ok(e instanceof RuntimeUnavailableError, String(e));
    assert.match(e.message, /device cuda is not available/);
    assert.match(e.message, /--device cpu/);
    return true;
  });
});

test("a missing or corrupt model file is a clear error", async () => {
  await assert.rejects(Session.fromFile("/nonexistent/model.onnx"), /cannot load model \/nonexistent\/model\.onnx/);
  await assert.rejects(Session.fromBytes(Uint8Array.of(1, 2, 3, 4, 5), {}, "model junk.onnx"), /cannot load model/);
});
