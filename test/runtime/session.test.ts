import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, ops } from "../../src/graph/index.js";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import * as ort from "onnxruntime-node";
import { LARGE_MODEL_BYTES, RuntimeUnavailableError, Session, SessionInputError, SessionRunError, resolveMemory } from "../../src/runtime/index.js";
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

test("sizes a stride-2 conv cannot halve are refused before running, naming the conv and the input", async () => {
  // conv stride 2 then 2x upsampling gives back H only for even H; the concat with x relies on it
  const g = new Graph("down_up");
  const x = g.input("x", "float32", [1, 2, "H", "W"]);
  const w = g.param("down_blocks.0.downsamplers.0.conv.weight", [2, 2, 3, 3]);
  const up = ops.resizeNearest(ops.conv(x, w, null, { stride: 2, padding: 1 }), [1, 1, 2, 2]); // [1, 2, H, W]
  g.output("y", ops.concat([x, up], 1));
  const s = await Session.fromGraph(g, { weights: new Map([[w.name, Tensor.zeros("float32", [2, 2, 3, 3])]]), threads: 1 });
  try {
    const odd = { x: Tensor.zeros("float32", [1, 2, 5, 6]) };
    assert.deepEqual(s.check(odd), ["Conv down_blocks.0.downsamplers.0.conv needs H divisible by 2, but H = 5 (input x axis 2)"]);
    await assert.rejects(s.run(odd), (e: unknown) => e instanceof SessionInputError && /needs H divisible by 2/.test(e.message));
    const { y } = await s.run({ x: Tensor.zeros("float32", [1, 2, 4, 6]) });
    assert.deepEqual(y!.shape, [1, 4, 4, 6]);
  } finally {
    await s.release();
  }
});

test("only nodes an output needs restrict sizes; a condition also assumed by a live node keeps that reason", async () => {
  const g = new Graph("partly_dead");
  const x = g.input("x", "float32", [1, 2, "H", "W"]);
  ops.conv(x, g.param("unused.conv.weight", [2, 2, 3, 3]), null, { stride: 2, padding: 1 }); // H/2, W/2; no output needs it
  const [top] = ops.split(x, 2, { parts: 2 }, "rows.halves"); // [1, 2, H/2, W]
  g.output("top", top!);
  assert.equal(g.constraints.length, 2, "the graph records both conditions (H and W even), first for the conv");
  const s = await Session.fromGraph(g, { threads: 1 });
  try {
    assert.deepEqual(s.check({ x: Tensor.zeros("float32", [1, 2, 5, 5]) }), ["Split rows.halves needs H divisible by 2, but H = 5 (input x axis 2)"]);
    const { top: y } = await s.run({ x: Tensor.zeros("float32", [1, 2, 4, 5]) });
    assert.deepEqual(y!.shape, [1, 2, 2, 5]);
  } finally {
    await s.release();
  }
});

test("an input dim that is not a whole size at the bound symbols is named with its divisibility", async () => {
  const g = new Graph("halves");
  const x = g.input("x", "float32", ["B", "H"]);
  const half = g.input("half", "float32", ["B*H/2"]);
  g.output("y", ops.add(ops.reduceSum(x, [0, 1], false), ops.reduceSum(half, [0], false)));
  const s = await Session.fromGraph(g, { threads: 1 });
  try {
    assert.deepEqual(s.check({ x: Tensor.zeros("float32", [3, 5]), half: Tensor.zeros("float32", [7]) }), [
      "input half: axis 0 (B*H/2) is not a whole size at B = 3 (input x axis 0), H = 5 (input x axis 1), which needs B*H divisible by 2",
    ]);
    assert.deepEqual(s.check({ x: Tensor.zeros("float32", [3, 4]), half: Tensor.zeros("float32", [6]) }), []);
  } finally {
    await s.release();
  }
});

test("a failure inside the runtime names the session and the node", async () => {
  // dims the IR cannot compare (F vs G) reach the runtime unchecked; its error is reworded with context
  const g = new Graph("mismatch");
  const a = g.input("a", "float32", ["F"]);
  const b = g.input("b", "float32", ["G"]);
  const [y] = g.addNode("Add", [a, b], {}, [{ dtype: "float32", shape: ["F"] }], "frames.bad_add");
  g.output("y", y!);
  const s = await Session.fromGraph(g, { threads: 1 });
  try {
    await assert.rejects(s.run({ a: Tensor.zeros("float32", [3]), b: Tensor.zeros("float32", [4]) }), (e: unknown) => {
      assert.ok(e instanceof SessionRunError, String(e));
      assert.match(e.message, /^graph mismatch: run failed in node frames\.bad_add \(Add\): /);
      assert.equal(e.node, "frames.bad_add (Add)");
      assert.ok(e.cause instanceof Error);
      return true;
    });
  } finally {
    await s.release();
  }
});

test("feeds that are not an object are an input problem, not a TypeError", async () => {
  const s = await twoInputSession();
  try {
    assert.deepEqual(s.check(null as never), ["feeds must be an object mapping input names to Tensors, got null"]);
    assert.deepEqual(s.check([] as never), ["feeds must be an object mapping input names to Tensors, got an array"]);
    assert.deepEqual(s.check(undefined as never), ["feeds must be an object mapping input names to Tensors, got undefined"]);
    await assert.rejects(s.run(null as never), (e: unknown) => e instanceof SessionInputError && /feeds must be an object/.test(e.message));
  } finally {
    await s.release();
  }
});

/** Runs `body` with os.tmpdir() pointing at a fresh directory, which it returns the listing of. */
async function inFreshTmpdir(body: () => Promise<void>): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "vidrd-session-test-"));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    await body();
    return readdirSync(dir);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    rmSync(dir, { recursive: true, force: true });
  }
}

function externalGraph(name: string): { g: Graph; weights: Map<string, Tensor> } {
  const g = new Graph(name);
  const w = g.param("scale.weight", [4]);
  g.output("y", ops.mul(g.input("x", "float32", [4]), w));
  return { g, weights: new Map([["scale.weight", Tensor.float32([1, 2, 3, 4])]]) };
}

test("release is idempotent, a released session refuses to run, and the temporary model dir goes even if the runtime's release fails", async () => {
  const left = await inFreshTmpdir(async () => {
    const { g, weights } = externalGraph("ext");
    const s = await Session.fromGraph(g, { weights, externalData: "always", threads: 1 });
    await s.release();
    await s.release(); // a second release does nothing
    await assert.rejects(s.run({ x: Tensor.float32([1, 1, 1, 1]) }), /graph ext: session was released/);

    const t = await Session.fromGraph(g, { weights, externalData: "always", threads: 1 });
    const inner = (t as unknown as { ort: { release(): Promise<void> } }).ort;
    const realRelease = inner.release.bind(inner);
    inner.release = async () => {
      await realRelease();
      throw new Error("runtime release failed");
    };
    await assert.rejects(t.release(), /runtime release failed/);
  });
  assert.deepEqual(left, [], "no temporary model dir left");
});

test("fromGraph removes its temporary model dir when writing the model fails", async () => {
  const left = await inFreshTmpdir(async () => {
    // a graph name with a path separator makes the model file land in a directory that does not exist
    const { g, weights } = externalGraph("missing_dir/model");
    await assert.rejects(Session.fromGraph(g, { weights, externalData: "always", threads: 1 }));
  });
  assert.deepEqual(left, [], "no temporary model dir left");
});

test("memory options reach the runtime: each arena/pattern setting runs a model at changing sizes", async () => {
  // Spy on the runtime's factory (a mutable static of the class Session calls) to see what it is given.
  const seen: { enableCpuMemArena?: boolean; enableMemPattern?: boolean }[] = [];
  const create = ort.InferenceSession.create;
  ort.InferenceSession.create = ((model: never, options?: ort.InferenceSession.SessionOptions) => {
    seen.push({ enableCpuMemArena: options?.enableCpuMemArena, enableMemPattern: options?.enableMemPattern });
    return create(model, options as never);
  }) as typeof create;
  try {
    const g = new Graph("memory");
    const x = g.input("x", "float32", ["N", 3]);
    g.output("y", ops.mul(ops.add(x, 1), ops.add(x, -1))); // x^2 - 1, with an intermediate buffer
    for (const memory of [{ arena: false, pattern: false }, { arena: true, pattern: false }, { arena: false, pattern: true }, { arena: true, pattern: true }]) {
      const s = await Session.fromGraph(g, { threads: 1, memory });
      try {
        assert.deepEqual(s.memory, memory);
        assert.deepEqual(seen.at(-1), { enableCpuMemArena: memory.arena, enableMemPattern: memory.pattern });
        for (const n of [1, 7, 2]) {
          const data = Float32Array.from({ length: 3 * n }, (_, i) => i - n);
          const { y } = await s.run({ x: Tensor.float32(data, [n, 3]) });
          assert.deepEqual([...y!.data], [...data].map((v) => (v + 1) * (v - 1)), `${JSON.stringify(memory)} at N = ${n}`);
        }
      } finally {
        await s.release();
      }
    }
    // defaults: the runtime's own (both on) for a small model, both off past LARGE_MODEL_BYTES
    const small = await Session.fromGraph(g, { threads: 1 });
    assert.deepEqual(small.memory, { arena: true, pattern: true });
    assert.deepEqual(seen.at(-1), { enableCpuMemArena: true, enableMemPattern: true });
    await small.release();
    assert.deepEqual(resolveMemory({}, LARGE_MODEL_BYTES + 1), { arena: false, pattern: false });
    assert.deepEqual(resolveMemory({ memory: { pattern: true } }, LARGE_MODEL_BYTES + 1), { arena: false, pattern: true });
    assert.deepEqual(resolveMemory({ memory: { arena: false } }, 1000), { arena: false, pattern: true });
  } finally {
    ort.InferenceSession.create = create;
  }
});

test("memory options are validated, naming the field", async () => {
  const g = new Graph("memory_bad");
  g.output("y", ops.identity(g.input("x", "float32", [1])));
  await assert.rejects(Session.fromGraph(g, { memory: { arena: "no" as never } }), /memory\.arena must be true or false, got "no"/);
  await assert.rejects(Session.fromGraph(g, { memory: { pool: true } as never }), /memory\.pool is not an option; allowed: arena, pattern/);
});
