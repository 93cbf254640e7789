// Tiny models fit toy regressions with the full trainer (MatMul and Conv gradient rules in the loop).
// The targets come from frozen "teacher" layers inside the same graph, so the task is realizable and the
// frozen parameters sit in the step graph as initializers next to the trained ones.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Graph, ops, type Value } from "../../src/graph/index.js";
import { Trainer, type StepRecord } from "../../src/train/index.js";
import { diffusionLoss, mseLoss, sampleDiffusionInputs } from "../../src/train/losses.js";
import { alphasCumprod, betaSchedule } from "../../src/schedulers/betas.js";
import { SeededNoise } from "../../src/tensor/seeded-noise.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { randomTensor } from "../graph/grad/gradcheck.js";
import { bits } from "./helpers.js";


/** Declares a parameter with data from a seeded uniform in +-scale, recorded in `weights`. */
function paramFactory(g: Graph, weights: Map<string, Tensor>) {
  let seed = 100;
  return (name: string, shape: number[], scale: number, trainable = true): Value => {
    weights.set(name, randomTensor(shape, seed++, -scale, scale));
    return g.param(name, shape, "float32", trainable);
  };
}

async function fit(
  build: (g: Graph, param: ReturnType<typeof paramFactory>) => { loss: Value },
  inputShape: number[],
  steps: number,
  peak: number,
) {
  const weights = new Map<string, Tensor>();
  const records: StepRecord[] = [];
  const trainer = new Trainer({
    model: (g) => build(g, paramFactory(g, weights)),
    weights,
    data: ({ noise }) => ({ x: new Tensor("float32", noise.randn(inputShape), inputShape) }),
    config: { steps, seed: 1, threads: 1, lr: { peak, warmupSteps: 10, floor: peak / 100 }, adamw: { weightDecay: 0 }, log: { progress: "none" } },
    onStep: (r) => void records.push(r),
  });
  const frozenBefore = new Map(trainer.trainStep.frozen.map((n) => [n, bits(weights.get(n)!)]));
  const result = await trainer.run();
  for (const [name, before] of frozenBefore) assert.deepEqual(bits(weights.get(name)!), before, `frozen ${name} unchanged`);
  return { result, records, frozen: trainer.trainStep.frozen };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test("a two-layer MLP fits a frozen teacher MLP to near-zero loss", async () => {
  const { result, records, frozen } = await fit((g, param) => {
    const x = g.input("x", "float32", [32, 4]);
    const target = ops.linear(ops.tanh(ops.linear(x, param("teacher.0.weight", [8, 4], 1, false), param("teacher.0.bias", [8], 0.5, false))), param("teacher.1.weight", [2, 8], 0.5, false));
    const h = ops.tanh(ops.linear(x, param("mlp.0.weight", [32, 4], 0.5), param("mlp.0.bias", [32], 0.1)));
    const y = ops.linear(h, param("mlp.1.weight", [2, 32], 0.2), param("mlp.1.bias", [2], 0.1));
    return { loss: mseLoss(y, target) };
  }, [32, 4], 1500, 1e-2);
  assert.deepEqual(frozen, ["teacher.0.weight", "teacher.0.bias", "teacher.1.weight"]);
  assert.deepEqual([...result.params.keys()], ["mlp.0.weight", "mlp.0.bias", "mlp.1.weight", "mlp.1.bias"]);
  const first = records[0]!.loss;
  const last = mean(records.slice(-20).map((r) => r.loss));
  assert.ok(last < 2e-3 && last < first / 100, `loss ${first} -> ${last}`);
});

test("a two-layer conv net fits a frozen teacher convolution to near-zero loss", async () => {
  const { records, frozen } = await fit((g, param) => {
    const x = g.input("x", "float32", [4, 1, 8, 8]);
    const target = ops.conv(x, param("teacher.weight", [1, 1, 3, 3], 0.5, false), null, { padding: 1 });
    const h = ops.silu(ops.conv(x, param("conv1.weight", [8, 1, 3, 3], 0.5), param("conv1.bias", [8], 0.1), { padding: 1 }));
    const y = ops.conv(h, param("conv2.weight", [1, 8, 1, 1], 0.3), param("conv2.bias", [1], 0.1));
    return { loss: mseLoss(y, target) };
  }, [4, 1, 8, 8], 400, 2e-2);
  assert.deepEqual(frozen, ["teacher.weight"]);
  const first = records[0]!.loss;
  const last = mean(records.slice(-20).map((r) => r.loss));
  assert.ok(last < 2e-3 && last < first / 100, `loss ${first} -> ${last}`);
});

test("the diffusion loss trains a per-timestep affine denoiser toward the exact noise predictor", async () => {
  // x0 = c for every sample, so eps = (x_t - sqrt(abar_t) c) / sqrt(1 - abar_t) is affine in x_t per t:
  // eps_theta(x_t, t) = a[t] x_t + b[t] can reach zero loss.
  const T = 20;
  const D = 4;
  const B = 64;
  const abar = alphasCumprod(betaSchedule({ schedule: "linear", trainTimesteps: T, betaStart: 0.1, betaEnd: 0.5 }));
  const records: StepRecord[] = [];
  const weights = new Map<string, Tensor>([
    ["denoiser.a", Tensor.zeros("float32", [T])],
    ["denoiser.b", Tensor.zeros("float32", [T, D])],
  ]);
  const trainer = new Trainer({
    model: (g) => {
      const x0 = g.input("x0", "float32", [B, D]);
      const a = g.param("denoiser.a", [T]);
      const b = g.param("denoiser.b", [T, D]);
      return diffusionLoss(x0, (xt, t) => ops.add(ops.mul(xt, ops.unsqueeze(ops.gather(a, t), [1])), ops.gather(b, t)), { alphasCumprod: abar });
    },
    weights,
    data: ({ noise }) => ({ x0: Tensor.float32(Array.from({ length: B * D }, (_, i) => [1, -0.5, 0.25, 2][i % D]!), [B, D]), ...sampleDiffusionInputs(noise, [B, D], T) }),
    config: { steps: 400, seed: 3, threads: 1, lr: { peak: 0.1, warmupSteps: 10, floor: 0.001 }, adamw: { weightDecay: 0 }, log: { progress: "none" } },
    onStep: (r) => void records.push(r),
  });
  await trainer.run();
  const first = records[0]!.loss;
  const last = mean(records.slice(-20).map((r) => r.loss));
  // with the zero initial denoiser the first loss is mean(eps^2) of step 1's noise, SeededNoise(seed).fork(1)
  const eps = sampleDiffusionInputs(new SeededNoise(3).fork(1), [B, D], T)["diffusion.eps"]!.data as Float32Array;
  const expected = eps.reduce((s, e) => s + e * e, 0) / eps.length;
  assert.ok(Math.abs(first - expected) <= 1e-5 * expected, `first loss ${first}, mean(eps^2) ${expected}`);
  assert.ok(last < 0.02, `loss ${first} -> ${last}`);
});
