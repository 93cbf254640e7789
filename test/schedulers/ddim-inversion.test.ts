import { test } from "node:test";
import assert from "node:assert/strict";
import { createScheduler } from "../../src/schedulers/create.js";
import type { PredictionType } from "../../src/schedulers/prediction.js";
import type { Scheduler } from "../../src/schedulers/types.js";

// A linear test denoiser: for data x_0 ~ N(0, s^2) the exact noise prediction at level alpha_bar is
// E[eps | x_t] = c_t x_t, c_t = sqrt(1 - abar) / (abar s^2 + 1 - abar); v = a eps - sigma x_0 follows.
// DDIM is then Euler's method on the probability-flow ODE of a Gaussian, whose exact flow keeps
// x_t / std_t constant, std_t = sqrt(abar s^2 + 1 - abar). Inversion evaluates eps on the less noisy
// sample, so the round trip is exact only as steps -> infinity, with first-order error in 1/N.
const S2 = 0.25;
type Denoiser = (prediction: PredictionType, abar: number, x: Float32Array) => Float32Array;

const gaussianDenoiser: Denoiser = (prediction, abar, x) => {
  const a = Math.sqrt(abar);
  const sigma = Math.sqrt(1 - abar);
  const c = sigma / (abar * S2 + 1 - abar);
  if (prediction === "epsilon") return x.map((v) => c * v);
  return x.map((v) => a * c * v - (sigma * (v - sigma * c * v)) / a); // x_0 = (x - sigma eps) / a
};

function run(s: Scheduler, x: Float32Array, denoiser: Denoiser): Float32Array {
  let state = s.initialState();
  for (let i = 0; i < s.timesteps.length; i++) {
    const out = denoiser(s.config.prediction, s.alphasCumprod[s.timesteps[i]], x);
    ({ prevSample: x, state } = s.step({ stepIndex: i, modelOutput: out, sample: x, state }));
  }
  return x;
}

const x0 = Float32Array.from({ length: 64 }, (_, i) => Math.sin(1.7 * i + 0.2) * 0.5); // [4, 16]
const maxAbs = (a: ArrayLike<number>) => Math.max(...Array.from(a, Math.abs));
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));

function roundTrip(prediction: PredictionType, steps: number, denoiser: Denoiser) {
  const inverse = createScheduler({ name: "ddim_inverse", prediction, steps });
  const forward = createScheduler({ name: "ddim", prediction, steps });
  const noisy = run(inverse, x0, denoiser);
  const back = run(forward, noisy, denoiser);
  return { inverse, forward, noisy, relError: maxDiff(back, x0) / maxAbs(x0) };
}

for (const prediction of ["epsilon", "v_prediction"] as const) {
  test(`DDIM inversion then sampling returns the clean latent at 50 steps, linear denoiser (${prediction})`, () => {
    const { inverse, forward, noisy, relError } = roundTrip(prediction, 50, gaussianDenoiser);
    assert.deepEqual(inverse.timesteps, [...forward.timesteps].reverse());
    // inversion follows the exact flow: x_981 = x_0 std_981 / std_(alpha_bar_0)
    const abar = forward.alphasCumprod;
    const std = (ab: number) => Math.sqrt(ab * S2 + 1 - ab);
    const exact = x0.map((v) => (v * std(abar[981])) / std(abar[0]));
    assert.ok(maxDiff(noisy, exact) / maxAbs(exact) < 0.03, `inverted latent vs exact flow: ${maxDiff(noisy, exact)}`);
    assert.ok(maxAbs(noisy) > 1.9 * maxAbs(x0), "the latent really travelled to the noise level");
    // v is converted at the sample's (lower) level though the model read the higher one: a larger O(1/N) term
    const bound = prediction === "epsilon" ? 0.05 : 0.1;
    assert.ok(relError < bound, `50-step round trip relative error ${relError.toExponential(2)}`);
    // first order: 4x the steps, about a quarter of the error
    const fine = roundTrip(prediction, 200, gaussianDenoiser).relError;
    assert.ok(fine < relError / 3, `200-step error ${fine.toExponential(2)} vs 50-step ${relError.toExponential(2)}`);
  });

}

test("DDIM inversion and sampling are exact inverses when eps does not depend on x", () => {
  // eps(x, t) = e_t, an affine denoiser: each sampling step undoes its inversion step up to float32 rounding
  const inverse = createScheduler({ name: "ddim_inverse", steps: 50 });
  const forward = createScheduler({ name: "ddim", steps: 50 });
  const eps = (t: number) => x0.map((_, k) => 0.3 * Math.cos(0.9 * k + t / 100));
  let x: Float32Array = x0;
  for (let i = 0; i < 50; i++) x = inverse.step({ stepIndex: i, modelOutput: eps(inverse.timesteps[i]), sample: x, state: null }).prevSample;
  assert.ok(maxDiff(x, x0) > 0.1, "inversion moved the latent");
  for (let i = 0; i < 50; i++) x = forward.step({ stepIndex: i, modelOutput: eps(forward.timesteps[i]), sample: x, state: null }).prevSample;
  assert.ok(maxDiff(x, x0) < 1e-4, `round trip error ${maxDiff(x, x0)}`);
});
