import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Graph, ops, type Value } from "../../src/graph/index.js";
import {
  GRAD_NORM_OUTPUT,
  LOSS_OUTPUT,
  adamM,
  adamV,
  adamwScalars,
  buildTrainStep,
  emaOf,
  gradSum,
  nextOf,
  resolveAdamW,
  type AdamWOptions,
  type TrainStep,
} from "../../src/graph/optim.js";
import { Session } from "../../src/runtime/index.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { assertClose } from "../reference/assert-close.js";
import { nd } from "../reference/nd.js";

// tools/fixtures/adamw_fixture.py (PyTorch 1.13 torch.optim.AdamW + clip_grad_norm_)
interface FixtureStep {
  lr: number;
  loss: number;
  grad_norm: number;
  params: Record<string, number[]>;
  ema: Record<string, number[]> | null;
  m: Record<string, number[]>;
  v: Record<string, number[]>;
}
interface FixtureCase {
  name: string;
  adamw: { betas: [number, number]; eps: number; weightDecay: number; maxGradNorm: number | null; emaDecay: number | null };
  init: Record<string, number[]>;
  shapes: Record<string, number[]>;
  scale: number[];
  batches: { x: number[]; y: number[] }[];
  steps: FixtureStep[];
}
const fixture = JSON.parse(readFileSync(new URL("../fixtures/train/adamw.json", import.meta.url), "utf8")) as {
  shape: { N: number; I: number; J: number };
  cases: FixtureCase[];
};
const { I, J } = fixture.shape;

/** pred = (sum_i x[n, i] w[i, j] + b[j]) * s[j] + c; loss = mean((pred - y)^2); s frozen. */
function quadraticModel(g: Graph, batch: number | string = "N") {
  const x = g.input("x", "float32", [batch, I]);
  const y = g.input("y", "float32", [batch, J]);
  const w = g.param("lin.weight", [I, J]);
  const b = g.param("lin.bias", [J]);
  const c = g.param("offset", []);
  const s = g.param("scale", [J], "float32", false);
  const xw = ops.reduceSum(ops.mul(ops.unsqueeze(x, [2]), w), [1], false); // [N, J]
  const pred = ops.add(ops.mul(ops.add(xw, b), s), c);
  const d = ops.sub(pred, y);
  return { loss: ops.reduceMean(ops.mul(d, d), [0, 1], false) };
}

const f32 = (data: number[], shape: readonly number[]) => new Tensor("float32", Float32Array.from(data), shape);

function adamwOf(c: FixtureCase): AdamWOptions {
  return { betas: c.adamw.betas, eps: c.adamw.eps, weightDecay: c.adamw.weightDecay, maxGradNorm: c.adamw.maxGradNorm ?? undefined, emaDecay: c.adamw.emaDecay ?? undefined };
}

/** Initial carried tensors: trainable parameters, zero moments, EMA = parameters. */
function initialState(step: TrainStep, init: Record<string, Tensor>): Record<string, Tensor> {
  const state: Record<string, Tensor> = {};
  for (const p of step.trainable) state[p.name] = init[p.name]!;
  for (const s of step.state) state[s.name] = "copyOf" in s.init ? init[s.init.copyOf]!.clone() : Tensor.zeros("float32", s.shape);
  return state;
}

async function compile(g: Graph, step: TrainStep, weights: Record<string, Tensor>): Promise<Session> {
  return Session.fromGraph(g, { weights: new Map(Object.entries(weights)), paramsAsInputs: step.paramsAsInputs, threads: 1 });
}

for (const c of fixture.cases) {
  test(`AdamW (${c.name}) matches PyTorch after each of 3 steps: parameters, moments, EMA, loss, grad norm`, async () => {
    const step = buildTrainStep((g) => quadraticModel(g), { adamw: adamwOf(c) });
    assert.equal(step.graphs.kind, "fused");
    if (step.graphs.kind !== "fused") return;
    const init = Object.fromEntries(Object.entries(c.init).map(([k, v]) => [k, f32(v, c.shapes[k]!)]));
    const session = await compile(step.graphs.step, step, { scale: f32(c.scale, [J]) });
    try {
      let state = initialState(step, init);
      for (const [t, expected] of c.steps.entries()) {
        const batch = c.batches[t]!;
        const n = batch.x.length / I;
        const out = await session.run({ ...state, x: f32(batch.x, [n, I]), y: f32(batch.y, [n, J]), ...step.scalarFeeds(t + 1, expected.lr) });
        assertClose(out[LOSS_OUTPUT]!, nd([], [expected.loss]), { rtol: 1e-6, label: `step ${t + 1} loss` });
        assertClose(out[GRAD_NORM_OUTPUT]!, nd([], [expected.grad_norm]), { rtol: 1e-6, label: `step ${t + 1} grad norm` });
        const next: Record<string, Tensor> = {};
        for (const name of Object.keys(state)) next[name] = out[nextOf(name)]!;
        state = next;
        for (const [name, shape] of Object.entries(c.shapes)) {
          const check = (key: string, values: number[]) =>
            assertClose(state[key]!, nd(shape, values), { rtol: 1e-5, atol: 1e-7, label: `step ${t + 1} ${key}` });
          check(name, expected.params[name]!);
          check(adamM(name), expected.m[name]!);
          check(adamV(name), expected.v[name]!);
          if (expected.ema) check(emaOf(name), expected.ema[name]!);
        }
      }
    } finally {
      await session.release();
    }
  });
}

test("the step graph's interface: trainable parameters and state in and out, the frozen one baked in", () => {
  const step = buildTrainStep((g) => quadraticModel(g), { adamw: { emaDecay: 0.99 } });
  assert.deepEqual(step.trainable.map((p) => p.name), ["lin.weight", "lin.bias", "offset"]);
  assert.deepEqual(step.frozen, ["scale"]);
  assert.deepEqual(step.state.map((s) => s.name), [
    "adam.m.lin.weight", "adam.v.lin.weight", "ema.lin.weight",
    "adam.m.lin.bias", "adam.v.lin.bias", "ema.lin.bias",
    "adam.m.offset", "adam.v.offset", "ema.offset",
  ]);
  assert.deepEqual(step.batchInputs.map((b) => b.name), ["x", "y"]);
  assert.equal(step.paramsAsInputs("scale"), false);
  assert.equal(step.paramsAsInputs("lin.weight"), true);
  assert.ok(step.graphs.kind === "fused");
  const outputs = step.graphs.step.outputs.map((o) => o.name);
  for (const name of [LOSS_OUTPUT, GRAD_NORM_OUTPUT, "next.lin.weight", "next.adam.m.offset", "next.ema.lin.bias"]) assert.ok(outputs.includes(name), name);
  assert.ok(!outputs.includes("next.scale"));
  // the caller's choice overrides the declared flags
  const onlyBias = buildTrainStep((g) => quadraticModel(g), { trainable: (n) => n === "lin.bias" });
  assert.deepEqual(onlyBias.trainable.map((p) => p.name), ["lin.bias"]);
  assert.deepEqual(onlyBias.frozen, ["lin.weight", "offset", "scale"]);
});

test("bias corrections are computed in float64 on the host and rounded once", () => {
  const feeds = adamwScalars(1, 0.5, [0.9, 0.999]);
  assert.equal((feeds["optim.bias_correction2"]!.data as Float32Array)[0], Math.fround(1 - 0.999));
  assert.equal((feeds["optim.bias_correction1"]!.data as Float32Array)[0], Math.fround(1 - 0.9));
  assert.equal((feeds["optim.lr"]!.data as Float32Array)[0], 0.5);
  assert.deepEqual(feeds["optim.lr"]!.shape, []);
  assert.throws(() => adamwScalars(0, 0.1, [0.9, 0.999]), /step is 0; allowed: an integer >= 1/);
});

test("gradient accumulation: 3 micro-batches of 2 give the update of one batch of 6 (mean loss)", async () => {
  const c = fixture.cases[0]!;
  const adamw = adamwOf(c);
  const whole = buildTrainStep((g) => quadraticModel(g, 6), { adamw });
  const micro = buildTrainStep((g) => quadraticModel(g, 2), { adamw, accumulation: 3 });
  assert.ok(whole.graphs.kind === "fused" && micro.graphs.kind === "accumulate");
  if (whole.graphs.kind !== "fused" || micro.graphs.kind !== "accumulate") return;
  assert.deepEqual(micro.state.map((s) => s.name), whole.state.map((s) => s.name));
  const weights = { scale: f32(c.scale, [J]) };
  const init = Object.fromEntries(Object.entries(c.init).map(([k, v]) => [k, f32(v, c.shapes[k]!)]));
  // six examples per step, deterministic
  const xs = [0, 1].map((t) => f32(Array.from({ length: 6 * I }, (_, i) => Math.sin(1 + i + 7 * t)), [6, I]));
  const ys = [0, 1].map((t) => f32(Array.from({ length: 6 * J }, (_, i) => 3 * Math.cos(2 + i + 5 * t)), [6, J]));
  const rows = (t: Tensor, from: number, to: number, width: number) => f32(Array.from(t.data as Float32Array).slice(from * width, to * width), [to - from, width]);

  const sWhole = await compile(whole.graphs.step, whole, weights);
  const sAcc = await compile(micro.graphs.accumulate, micro, weights);
  const sApply = await compile(micro.graphs.apply, micro, weights);
  try {
    let a = initialState(whole, init);
    let b = initialState(micro, init);
    for (let t = 0; t < 2; t++) {
      const scalars = whole.scalarFeeds(t + 1, 0.05);
      const outWhole = await sWhole.run({ ...a, x: xs[t]!, y: ys[t]!, ...scalars });
      a = Object.fromEntries(Object.keys(a).map((k) => [k, outWhole[nextOf(k)]!]));

      const params = Object.fromEntries(micro.trainable.map((p) => [p.name, b[p.name]!]));
      let sums: Record<string, Tensor> = Object.fromEntries(micro.trainable.map((p) => [gradSum(p.name), Tensor.zeros("float32", p.shape)]));
      let lossSum = 0;
      for (let k = 0; k < 3; k++) {
        const out = await sAcc.run({ ...params, ...sums, x: rows(xs[t]!, 2 * k, 2 * k + 2, I), y: rows(ys[t]!, 2 * k, 2 * k + 2, J) });
        lossSum += (out[LOSS_OUTPUT]!.data as Float32Array)[0]!;
        sums = Object.fromEntries(Object.keys(sums).map((n) => [n, out[nextOf(n)]!]));
      }
      const outApply = await sApply.run({ ...b, ...sums, ...scalars });
      b = Object.fromEntries(Object.keys(b).map((k) => [k, outApply[nextOf(k)]!]));
      assertClose(nd([], [lossSum / 3]), nd([], [(outWhole[LOSS_OUTPUT]!.data as Float32Array)[0]!]), { rtol: 1e-6, label: "mean micro-batch loss" });
      assertClose(outApply[GRAD_NORM_OUTPUT]!, nd([], [(outWhole[GRAD_NORM_OUTPUT]!.data as Float32Array)[0]!]), { rtol: 1e-5, label: "grad norm" });
    }
    for (const name of Object.keys(a)) {
      assertClose(b[name]!, nd(a[name]!.shape, Array.from(a[name]!.data as Float32Array)), { rtol: 1e-5, atol: 1e-7, label: name });
    }
  } finally {
    await Promise.all([sWhole.release(), sAcc.release(), sApply.release()]);
  }
});

test("a parameter the loss does not reach only decays", async () => {
  const step = buildTrainStep((g) => {
    const x = g.input("x", "float32", [2]);
    const w = g.param("w", [2]);
    g.param("unused", [3]);
    return { loss: ops.reduceSum(ops.mul(ops.mul(x, w), w), [0], false) };
  }, { adamw: { weightDecay: 0.5 } });
  assert.ok(step.graphs.kind === "fused");
  if (step.graphs.kind !== "fused") return;
  const s = await compile(step.graphs.step, step, {});
  try {
    const init = { w: f32([1, 2], [2]), unused: f32([1, -2, 4], [3]) };
    const out = await s.run({ ...initialState(step, init), x: f32([1, 1], [2]), ...step.scalarFeeds(1, 0.1) });
    assert.deepEqual(Array.from(out["next.unused"]!.data as Float32Array), [1, -2, 4].map((v) => Math.fround(v * Math.fround(1 - Math.fround(0.1) * 0.5))));
  } finally {
    await s.release();
  }
});

test("with clipping, a NaN gradient makes the clip coefficient NaN: the norm shows it and no parameter gets a finite update", async () => {
  const step = buildTrainStep((g) => {
    const x = g.input("x", "float32", [2]);
    const z = g.input("z", "float32", [1]);
    const a = g.param("a", [2]);
    const b = g.param("b", [2]);
    // sqrt(0 b + z) is finite; its gradient 0 * 0.5 / sqrt(z) is NaN at z = 0 (0 at z = 1)
    const reachesB = ops.reduceSum(ops.sqrt(ops.add(ops.mul(b, 0), z)), [0], false);
    return { loss: ops.add(ops.reduceSum(ops.mul(x, a), [0], false), reachesB) };
  }, { adamw: { maxGradNorm: 1, weightDecay: 0 } });
  assert.ok(step.graphs.kind === "fused");
  if (step.graphs.kind !== "fused") return;
  const s = await compile(step.graphs.step, step, {});
  try {
    const init = initialState(step, { a: f32([1, 2], [2]), b: f32([3, 4], [2]) });
    const run = (z: number) => s.run({ ...init, x: f32([3, 4], [2]), z: f32([z], [1]), ...step.scalarFeeds(1, 0.1) });
    const values = (t: Tensor) => Array.from(t.data as Float32Array);
    // z = 1: a's gradient (3, 4) has norm 5, clipped to 1
    const finite = await run(1);
    assert.ok(Math.abs((finite[GRAD_NORM_OUTPUT]!.data as Float32Array)[0]! - 5) < 1e-5);
    assert.ok(values(finite["next.a"]!).every(Number.isFinite));
    const poisoned = await run(0);
    assert.ok(Number.isFinite((poisoned[LOSS_OUTPUT]!.data as Float32Array)[0]!), "the loss stays finite");
    assert.ok(Number.isNaN((poisoned[GRAD_NORM_OUTPUT]!.data as Float32Array)[0]!));
    // a's own gradient is finite, but the clip coefficient it is scaled by is NaN
    for (const name of ["next.a", nextOf(adamM("a")), nextOf(adamV("a"))]) assert.ok(values(poisoned[name]!).every(Number.isNaN), `${name}: ${values(poisoned[name]!)}`);
  } finally {
    await s.release();
  }
});

test("parameters that share their trailing shape are updated together, each as AdamW updates it alone", async () => {
  // Groups by shape past axis 0: a, b [., 3]; c, d [.]; e, h [., 1, 1] (trailing 1s); f rank 0 alone.
  const shapes: Record<string, number[]> = { a: [2, 3], b: [4, 3], c: [3], d: [5], e: [2, 1, 1], f: [], h: [3, 1, 1] };
  const adamw = { betas: [0.8, 0.95] as [number, number], eps: 1e-6, weightDecay: 0.1, maxGradNorm: 0.5, emaDecay: 0.9 };
  const size = (shape: number[]) => shape.reduce((x, y) => x * y, 1);
  const r = Object.fromEntries(Object.entries(shapes).map(([n, sh], i) => [n, Array.from({ length: size(sh) }, (_, k) => Math.sin(3 * i + k))]));
  // L = sum_p sum(p * r_p + p^2 / 2): dL/dp = r_p + p, which changes from step to step
  const step = buildTrainStep((g) => {
    const terms = Object.entries(shapes).map(([n, sh]) => {
      const p = g.param(n, sh);
      const rp = g.constant(f32(r[n]!, sh));
      const e = ops.add(ops.mul(p, rp), ops.mul(ops.mul(p, p), 0.5));
      return sh.length === 0 ? e : ops.reduceSum(e, [...sh.keys()], false);
    });
    return { loss: terms.reduce((x, y) => ops.add(x, y)) };
  }, { adamw });
  assert.ok(step.graphs.kind === "fused");
  if (step.graphs.kind !== "fused") return;
  assert.equal(step.graphs.step.nodes.filter((n) => n.op === "Split").length, 3 * 4, "3 groups of 2 split back 4 ways (theta, m, v, EMA)");
  const init = Object.fromEntries(Object.entries(shapes).map(([n, sh], i) => [n, Array.from({ length: size(sh) }, (_, k) => Math.cos(5 * i + k))]));
  const session = await compile(step.graphs.step, step, {});
  try {
    let state = initialState(step, Object.fromEntries(Object.entries(init).map(([n, v]) => [n, f32(v, shapes[n]!)])));
    // The reference in float64: each tensor alone, steps (1)-(6) of src/graph/optim/adamw.ts
    const ref = { p: structuredClone(init), m: {} as Record<string, number[]>, v: {} as Record<string, number[]>, ema: structuredClone(init) };
    for (const n of Object.keys(shapes)) [ref.m[n], ref.v[n]] = [init[n]!.map(() => 0), init[n]!.map(() => 0)];
    for (let t = 1; t <= 3; t++) {
      const lr = 0.05 * t;
      const grads = Object.fromEntries(Object.keys(shapes).map((n) => [n, ref.p[n]!.map((p, k) => r[n]![k]! + p)]));
      const norm = Math.sqrt(Object.values(grads).flat().reduce((acc, x) => acc + x * x, 0));
      const clip = Math.min(1, adamw.maxGradNorm / (norm + 1e-6));
      const [bc1, bc2] = [1 - adamw.betas[0] ** t, 1 - adamw.betas[1] ** t];
      for (const n of Object.keys(shapes)) {
        ref.p[n] = ref.p[n]!.map((p, k) => {
          const gk = grads[n]![k]! * clip;
          const m = (ref.m[n]![k] = adamw.betas[0] * ref.m[n]![k]! + (1 - adamw.betas[0]) * gk);
          const v = (ref.v[n]![k] = adamw.betas[1] * ref.v[n]![k]! + (1 - adamw.betas[1]) * gk * gk);
          const p1 = p * (1 - lr * adamw.weightDecay) - ((lr / bc1) * m) / (Math.sqrt(v) / Math.sqrt(bc2) + adamw.eps);
          ref.ema[n]![k] = adamw.emaDecay * ref.ema[n]![k]! + (1 - adamw.emaDecay) * p1;
          return p1;
        });
      }
      const out = await session.run({ ...state, ...step.scalarFeeds(t, lr) });
      assertClose(out[GRAD_NORM_OUTPUT]!, nd([], [norm]), { rtol: 1e-5, label: `step ${t} grad norm` });
      const next: Record<string, Tensor> = {};
      for (const name of Object.keys(state)) next[name] = out[nextOf(name)]!;
      state = next;
      for (const [n, sh] of Object.entries(shapes)) {
        assert.deepEqual(state[n]!.shape, sh, `${n} keeps its shape`);
        for (const [key, values] of [[n, ref.p[n]!], [adamM(n), ref.m[n]!], [adamV(n), ref.v[n]!], [emaOf(n), ref.ema[n]!]] as const) {
          assertClose(state[key]!, nd(sh, values), { rtol: 1e-5, atol: 1e-7, label: `step ${t} ${key}` });
        }
      }
    }
  } finally {
    await session.release();
  }
});

test("invalid options and models fail with messages that name the field", () => {
  assert.throws(() => resolveAdamW({ betas: [0.9, 1] }), /adamw.betas is \[0.9,1\]; allowed: two numbers in \[0, 1\)/);
  assert.throws(() => resolveAdamW({ eps: 0 }), /adamw.eps is 0; allowed: a finite number > 0/);
  assert.throws(() => resolveAdamW({ weightDecay: -1 }), /adamw.weightDecay is -1/);
  assert.throws(() => resolveAdamW({ maxGradNorm: 0 }), /adamw.maxGradNorm is 0/);
  assert.throws(() => resolveAdamW({ emaDecay: 1 }), /adamw.emaDecay is 1; allowed: a number in \(0, 1\)/);
  assert.throws(() => buildTrainStep((g) => quadraticModel(g), { accumulation: 0 }), /accumulation is 0; allowed: an integer >= 1/);
  assert.throws(() => buildTrainStep((g) => quadraticModel(g), { trainable: () => false }), /no trainable parameters among 4 \(lin.weight, lin.bias, offset, scale\)/);
  assert.throws(
    () => buildTrainStep((g) => {
      const w = g.param("half", [2], "float16");
      return { loss: ops.reduceSum(ops.cast(w, "float32"), [0], false) };
    }),
    /half: only float32 parameters can be trained, got float16\[2\]/,
  );
  assert.throws(
    () => buildTrainStep((g) => ({ loss: g.param("w", [2]) as Value })),
    /loss must be a scalar/,
  );
});
