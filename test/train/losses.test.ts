import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, ops, type Value } from "../../src/graph/index.js";
import { Session } from "../../src/runtime/index.js";
import { SeededNoise } from "../../src/tensor/seeded-noise.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { alphasCumprod, betaSchedule } from "../../src/schedulers/betas.js";
import { diffusionLoss, gaussianKL, l1Loss, mseLoss, sampleDiffusionInputs } from "../../src/train/losses.js";
import { gradCheck, randomTensor } from "../graph/grad/gradcheck.js";

const f32 = (data: number[], shape: number[]) => Tensor.float32(data, shape);

/** Builds, runs once and returns the scalar. */
async function evaluate(build: (g: Graph) => Value, feeds: Record<string, Tensor>, weights: Record<string, Tensor> = {}): Promise<number> {
  const g = new Graph("loss_test");
  const v = build(g);
  assert.deepEqual(v.shape, [], "losses are rank 0");
  g.output("loss", v);
  const s = await Session.fromGraph(g, { weights: new Map(Object.entries(weights)), threads: 1 });
  try {
    return ((await s.run(feeds)).loss!.data as Float32Array)[0]!;
  } finally {
    await s.release();
  }
}

const close = (a: number, b: number, rtol = 1e-6) => assert.ok(Math.abs(a - b) <= rtol * Math.abs(b), `${a} vs ${b}`);

// pred - target = [[1, -2, 0.5], [0, 3, -1]]
const PRED = f32([2, -1, 0.5, 1, 4, 0], [2, 3]);
const TARGET = f32([1, 1, 0, 1, 1, 1], [2, 3]);

test("MSE: mean of squared differences; with a mask, the mean over masked elements", async () => {
  const inputs = (g: Graph) => [g.input("p", "float32", [2, 3]), g.input("t", "float32", [2, 3])] as const;
  // (1 + 4 + 0.25 + 0 + 9 + 1) / 6
  close(await evaluate((g) => mseLoss(...inputs(g)), { p: PRED, t: TARGET }), 15.25 / 6);
  // a row mask [1, 0] broadcast over columns: (1 + 4 + 0.25) / 3
  const rowMask = (g: Graph) => mseLoss(...inputs(g), g.input("m", "float32", [2, 1]));
  close(await evaluate(rowMask, { p: PRED, t: TARGET, m: f32([1, 0], [2, 1]) }), 5.25 / 3);
  // an element mask picking 4 and 9: 13 / 2; bool masks work the same
  const elementMask = (g: Graph) => mseLoss(...inputs(g), g.input("m", "bool", [2, 3]));
  close(await evaluate(elementMask, { p: PRED, t: TARGET, m: new Tensor("bool", Uint8Array.of(0, 1, 0, 0, 1, 0), [2, 3]) }), 6.5);
  // an empty mask gives 0, not NaN
  assert.equal(await evaluate(rowMask, { p: PRED, t: TARGET, m: f32([0, 0], [2, 1]) }), 0);
});

test("L1: mean of absolute differences", async () => {
  const v = await evaluate((g) => l1Loss(g.input("p", "float32", [2, 3]), g.input("t", "float32", [2, 3])), { p: PRED, t: TARGET });
  close(v, (1 + 2 + 0.5 + 0 + 3 + 1) / 6);
});

test("KL of a diagonal Gaussian to N(0, I): summed over a sample, averaged over the batch", async () => {
  const mean = [0.5, -1, 0, 2];
  const logvar = [0, 0.5, -1, 0.25];
  // per element 0.5 (mu^2 + e^lv - 1 - lv), in float64
  const kl = mean.map((m, i) => 0.5 * (m * m + Math.exp(logvar[i]!) - 1 - logvar[i]!));
  const expected = ((kl[0]! + kl[1]!) + (kl[2]! + kl[3]!)) / 2; // batch 2, 2 elements each
  const v = await evaluate(
    (g) => gaussianKL(g.input("mu", "float32", [2, 1, 2]), g.input("lv", "float32", [2, 1, 2])),
    { mu: f32(mean, [2, 1, 2]), lv: f32(logvar, [2, 1, 2]) },
  );
  close(v, expected);
  // a standard normal is at distance 0
  assert.equal(await evaluate((g) => gaussianKL(g.input("mu", "float32", [3, 2]), g.input("lv", "float32", [3, 2])), { mu: Tensor.zeros("float32", [3, 2]), lv: Tensor.zeros("float32", [3, 2]) }), 0);
});

test("diffusion loss: x_t from the alpha_bar table at the fed timesteps, MSE to the fed noise", async () => {
  const abar = alphasCumprod(betaSchedule({ trainTimesteps: 1000 }));
  const x0 = [0.5, -1, 2, 0.25, 1, -0.5]; // [2, 3]
  const eps = [1, 0, -1, 0.5, -2, 1];
  const t = [10, 900];
  const w = 0.7; // eps_theta(x_t, t) = w x_t
  const g = new Graph("diffusion_test");
  const x = g.input("x0", "float32", [2, 3]);
  const out = diffusionLoss(x, (xt) => ops.mul(xt, g.param("w", [])), { alphasCumprod: abar });
  g.output("loss", out.loss);
  g.output("xt", out.xt);
  const s = await Session.fromGraph(g, { weights: new Map([["w", f32([w], [])]]), threads: 1 });
  try {
    const r = await s.run({ x0: f32(x0, [2, 3]), "diffusion.t": Tensor.int64(t), "diffusion.eps": f32(eps, [2, 3]) });
    let expected = 0;
    x0.forEach((x0i, i) => {
      const a = abar[t[Math.floor(i / 3)]!]!;
      const xt = Math.sqrt(a) * x0i + Math.sqrt(1 - a) * eps[i]!;
      close((r.xt!.data as Float32Array)[i]!, xt, 1e-6);
      expected += (w * xt - eps[i]!) ** 2 / 6;
    });
    close((r.loss!.data as Float32Array)[0]!, expected, 1e-6);
  } finally {
    await s.release();
  }
});

test("diffusion inputs: reproducible from the seed, timesteps in range and uniform", () => {
  const a = sampleDiffusionInputs(new SeededNoise(3), [4, 2, 5], 1000);
  const b = sampleDiffusionInputs(new SeededNoise(3), [4, 2, 5], 1000);
  assert.deepEqual(a["diffusion.t"]!.data, b["diffusion.t"]!.data);
  assert.deepEqual(a["diffusion.eps"]!.data, b["diffusion.eps"]!.data);
  assert.deepEqual(a["diffusion.eps"]!.shape, [4, 2, 5]);
  // 20000 draws over 10 bins: each count is 2000 +- 42 (one sd); a chi-square test at 9 degrees of
  // freedom rejects uniformity at p = 0.001 above 27.9
  const T = 10;
  const n = 20000;
  const t = sampleDiffusionInputs(new SeededNoise(11), [n, 1], T)["diffusion.t"]!.data as BigInt64Array;
  const counts = new Array<number>(T).fill(0);
  for (const v of t) {
    assert.ok(v >= 0n && v < BigInt(T));
    counts[Number(v)]!++;
  }
  const chi2 = counts.reduce((s, c) => s + (c - n / T) ** 2 / (n / T), 0);
  assert.ok(chi2 < 27.9, `chi-square ${chi2.toFixed(1)} for counts ${counts.join(", ")}`);
});

// gradCheck differentiates sum(out * r) over a rank >= 1 output; a rank-0 loss times a [1] input of 1 is one
const asVector = (g: Graph, loss: Value): Value => ops.mul(loss, g.input("one", "float32", [1]));
const ONE = { one: f32([1], [1]) };

test("gradients of MSE (with and without a mask) and L1 match finite differences", async () => {
  for (const kind of ["mse", "mse-masked", "l1"] as const) {
    await gradCheck((g) => {
      const p = g.input("p", "float32", [2, 3, 2]);
      const t = g.input("t", "float32", [2, 3, 2]);
      const loss = kind === "l1" ? l1Loss(p, t) : kind === "mse" ? mseLoss(p, t) : mseLoss(p, t, g.input("m", "float32", [2, 1, 2]));
      const feeds: Record<string, Tensor> = { ...ONE, p: randomTensor([2, 3, 2], 1), t: randomTensor([2, 3, 2], 2) };
      if (kind === "mse-masked") feeds.m = f32([1, 0, 1, 1], [2, 1, 2]);
      return { output: asVector(g, loss), feeds, wrt: [p, t] };
    });
  }
});

test("gradients of the Gaussian KL match finite differences", async () => {
  await gradCheck((g) => {
    const mu = g.input("mu", "float32", [2, 2, 3]);
    const lv = g.input("lv", "float32", [2, 2, 3]);
    return { output: asVector(g, gaussianKL(mu, lv)), feeds: { ...ONE, mu: randomTensor([2, 2, 3], 3), lv: randomTensor([2, 2, 3], 4) }, wrt: [mu, lv] };
  });
});

test("gradients of the diffusion loss with respect to the denoiser's parameters and x0 match finite differences", async () => {
  const abar = alphasCumprod(betaSchedule({ trainTimesteps: 100 }));
  await gradCheck((g) => {
    const x0 = g.input("x0", "float32", [2, 4]);
    const w = g.input("w", "float32", [4]);
    const b = g.input("b", "float32", [1]);
    const { loss } = diffusionLoss(x0, (xt, t) => ops.add(ops.mul(xt, w), ops.mul(ops.unsqueeze(ops.cast(t, "float32"), [1]), b)), { alphasCumprod: abar });
    const feeds: Record<string, Tensor> = {
      ...ONE,
      x0: randomTensor([2, 4], 5),
      w: randomTensor([4], 6),
      b: f32([0.01], [1]),
      "diffusion.t": Tensor.int64([3, 71]),
      "diffusion.eps": randomTensor([2, 4], 7),
    };
    return { output: asVector(g, loss), feeds, wrt: [w, b, x0] };
  });
});

test("loss builders reject mismatched shapes with a message naming both", () => {
  const g = new Graph("bad");
  assert.throws(() => mseLoss(g.input("a", "float32", [2, 3]), g.input("b", "float32", [3, 2])), /prediction float32\[2, 3\] and target float32\[3, 2\] must have the same shape/);
  assert.throws(() => diffusionLoss(g.input("c", "float32", [2]), (x) => x, { alphasCumprod: [] }), /alphasCumprod must be a non-empty list/);
});
