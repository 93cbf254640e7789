import { test } from "node:test";
import assert from "node:assert/strict";
import { createScheduler } from "../../src/schedulers/create.js";
import { resolveSchedulerConfig, type SchedulerConfig } from "../../src/schedulers/config.js";
import { roundHalfEven } from "../../src/schedulers/timesteps.js";
import type { NoiseSource } from "../../src/tensor/noise.js";

test("VidRD defaults: DDIM, 50 leading steps with offset 1 give [981, 961, ..., 21, 1]", () => {
  const s = createScheduler();
  const expected = Array.from({ length: 50 }, (_, i) => 981 - 20 * i);
  assert.deepEqual(s.timesteps, expected);
  assert.equal(s.timesteps.at(-1), 1);
  assert.deepEqual(
    { ...s.config },
    { ...resolveSchedulerConfig({}), name: "ddim", steps: 50, trainTimesteps: 1000, betaSchedule: "scaled_linear", betaStart: 0.00085, betaEnd: 0.012, stepsOffset: 1, setAlphaToOne: false, spacing: "leading", eta: 0 },
  );
});

test("bad configs fail naming the field, the value and what is allowed", () => {
  const cases: [SchedulerConfig, RegExp][] = [
    [{ name: "plms" as SchedulerConfig["name"] }, /name is "plms"; allowed: ddim, ddim_inverse, ddpm, dpmsolver\+\+2m, euler/],
    [{ steps: 0 }, /steps is 0; allowed: an integer in \[1, 1000\]/],
    [{ steps: 1001 }, /steps is 1001; allowed: an integer in \[1, 1000\]/],
    [{ steps: 2.5 }, /steps is 2.5; allowed: an integer/],
    [{ eta: -0.1 }, /eta is -0.1; allowed: a finite number >= 0/],
    [{ spacing: "uniform" as SchedulerConfig["spacing"] }, /spacing is "uniform"; allowed: leading, trailing, linspace/],
    [{ prediction: "sample" as SchedulerConfig["prediction"] }, /prediction is "sample"; allowed: epsilon, v_prediction/],
    [{ betaSchedule: "cosine" as SchedulerConfig["betaSchedule"] }, /betaSchedule is "cosine"; allowed: linear, scaled_linear, squaredcos_cap_v2/],
    [{ finalSigmas: "min" as SchedulerConfig["finalSigmas"] }, /finalSigmas is "min"; allowed: zero, sigma_min/],
    [{ setAlphaToOne: "yes" as unknown as boolean }, /setAlphaToOne is "yes"; allowed: true, false/],
    // leading with offset 1 at N = T reaches timestep T
    [{ steps: 1000 }, /steps 1000 with spacing leading and stepsOffset 1 gives timestep 1000; allowed: timesteps in \[0, 999\]/],
  ];
  for (const [config, message] of cases) assert.throws(() => createScheduler(config), message, JSON.stringify(config));
  assert.doesNotThrow(() => createScheduler({ steps: 1000, stepsOffset: 0 }));
});

test("a stochastic step without a NoiseSource, or with a bad step index, says what is missing", () => {
  const ddim = createScheduler({ eta: 1 });
  const x = new Float32Array(8);
  assert.throws(() => ddim.step({ stepIndex: 0, modelOutput: x, sample: x, state: null }), /ddim with eta 1 draws noise: pass a NoiseSource/);
  assert.throws(() => ddim.step({ stepIndex: 50, modelOutput: x, sample: x, state: null }), /stepIndex is 50; allowed: an integer in \[0, 49\]/);
  assert.throws(() => ddim.step({ stepIndex: 0, modelOutput: new Float32Array(4), sample: x, state: null }), /modelOutput has 4 elements, sample has 8/);
  const short: NoiseSource = { randn: () => new Float32Array(3) };
  assert.throws(() => createScheduler({ name: "ddpm" }).step({ stepIndex: 0, modelOutput: x, sample: x, state: null, noise: short }), /noise.randn gave 3 values for a sample of 8/);
});

test("noise is drawn with the latent's shape, and eta = 0 draws none", () => {
  const shapes: (readonly number[])[] = [];
  const noise: NoiseSource = { randn: (shape) => (shapes.push(shape), new Float32Array(24).fill(1)) };
  const x = Float32Array.from({ length: 24 }, (_, i) => i / 24);
  createScheduler({ eta: 0 }).step({ stepIndex: 0, modelOutput: x, sample: x, state: null, noise, shape: [2, 3, 4] });
  assert.equal(shapes.length, 0);
  const a = createScheduler({ eta: 0.7 }).step({ stepIndex: 3, modelOutput: x, sample: x, state: null, noise, shape: [2, 3, 4] });
  assert.deepEqual(shapes, [[2, 3, 4]]);
  const b = createScheduler({ eta: 0 }).step({ stepIndex: 3, modelOutput: x, sample: x, state: null });
  assert.ok(a.prevSample.some((v, i) => v !== b.prevSample[i]), "eta > 0 adds noise");
});

test("steps are pure: inputs untouched, DPM-Solver++ state is a value the caller threads", () => {
  const s = createScheduler({ name: "dpmsolver++2m", steps: 20 });
  const x = Float32Array.from({ length: 6 }, (_, i) => i - 2);
  const out = Float32Array.from({ length: 6 }, (_, i) => 0.1 * i);
  const xCopy = x.slice();
  const first = s.step({ stepIndex: 0, modelOutput: out, sample: x, state: s.initialState() });
  assert.deepEqual(x, xCopy);
  // the same second step from the same state twice gives the same answer; from a fresh state (first
  // order) a different one
  const again = () => s.step({ stepIndex: 1, modelOutput: out, sample: first.prevSample, state: first.state }).prevSample;
  assert.deepEqual(again(), again());
  const fresh = s.step({ stepIndex: 1, modelOutput: out, sample: first.prevSample, state: s.initialState() }).prevSample;
  assert.notDeepEqual(fresh, again());
});

test("Euler starts from sigma_max noise and feeds the model the variance-preserving sample", () => {
  const s = createScheduler({ name: "euler", spacing: "trailing" });
  const sigmaMax = Math.sqrt((1 - s.alphasCumprod[999]) / s.alphasCumprod[999]);
  assert.equal(s.initNoiseSigma, sigmaMax);
  const x = Float32Array.from([sigmaMax, -2 * sigmaMax]);
  const scaled = s.scaleModelInput(x, 0);
  assert.ok(Math.abs(scaled[0] - sigmaMax / Math.sqrt(sigmaMax ** 2 + 1)) < 1e-6);
  // leading (t = 981 first) starts from std sqrt(sigma^2 + 1), as diffusers does
  const leading = createScheduler({ name: "euler" });
  const sigma981 = Math.sqrt((1 - s.alphasCumprod[981]) / s.alphasCumprod[981]);
  assert.equal(leading.timesteps[0], 981);
  assert.ok(Math.abs(leading.initNoiseSigma - Math.sqrt(sigma981 ** 2 + 1)) < 1e-12);
});

test("roundHalfEven rounds ties to even like numpy.round", () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, 832.5, 832.4999].map(roundHalfEven), [0, 2, 2, 0, 832, 832]);
});
