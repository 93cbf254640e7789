import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { alphasCumprod, betaSchedule, type BetaScheduleName } from "../../src/schedulers/betas.js";
import { createScheduler, type SchedulerState } from "../../src/schedulers/create.js";
import type { FinalSigmas, SchedulerName } from "../../src/schedulers/config.js";
import type { PredictionType } from "../../src/schedulers/prediction.js";
import { spacedTimesteps, type TimestepSpacing } from "../../src/schedulers/timesteps.js";
import type { NoiseSource } from "../../src/tensor/noise.js";

// Golden values from tools/fixtures/scheduler_golden.py: an independent numpy float64 implementation of
// each sampler (run with /usr/bin/python3). Each step is fed the reference's previous sample (teacher
// forcing), so a step is judged on its own and float32 rounding does not compound along the chain.
interface GoldenCase {
  scheduler: SchedulerName;
  spacing: TimestepSpacing;
  prediction: PredictionType;
  steps: number;
  eta?: number;
  beta_schedule: BetaScheduleName;
  beta_start?: number;
  beta_end?: number;
  steps_offset: number;
  set_alpha_to_one: boolean;
  final_sigmas: FinalSigmas;
  timesteps: number[];
  sample: number[];
  outputs: number[][];
  noises: number[][];
  samples: number[][];
  pred_original: number[][];
  init_noise_sigma?: number;
  scaled_input_0?: number[];
}
interface Golden {
  shape: number[];
  alphas_cumprod_indices: number[];
  alphas_cumprod: Record<BetaScheduleName, number[]>;
  timesteps: Record<string, number[]>;
  cases: GoldenCase[];
}
const golden = JSON.parse(
  readFileSync(fileURLToPath(new URL("../fixtures/schedulers/golden.json", import.meta.url)), "utf8"),
) as Golden;

const RTOL = 1e-6;

/** |a - e| <= rtol |e| per element, with a floor of rtol * 1e-3 max|e| for values that cancel to ~0. */
function assertArrayClose(actual: ArrayLike<number>, expected: number[], label: string, rtol = RTOL): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  const floor = rtol * 1e-3 * Math.max(...expected.map(Math.abs));
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= rtol * Math.abs(expected[i]) + floor, `${label}[${i}]: ${actual[i]} vs ${expected[i]} (error ${err.toExponential(2)})`);
  }
}

function fixedNoise(z: number[]): NoiseSource {
  return { randn: (shape) => (assert.deepEqual(shape, golden.shape), Float32Array.from(z)) };
}

test("alphas_cumprod samples match the reference", () => {
  for (const schedule of Object.keys(golden.alphas_cumprod) as BetaScheduleName[]) {
    const opts = schedule === "linear" ? { schedule, betaStart: 0.0001, betaEnd: 0.02 } : { schedule };
    const abar = alphasCumprod(betaSchedule(opts));
    golden.alphas_cumprod_indices.forEach((t, k) => assertArrayClose([abar[t]], [golden.alphas_cumprod[schedule][k]], `${schedule}[${t}]`, 1e-12));
  }
});

test("timestep lists match the reference for every scheduler, spacing and step count", () => {
  for (const [key, expected] of Object.entries(golden.timesteps)) {
    const [name, spacing, n] = key.split("/") as [SchedulerName, TimestepSpacing, string];
    const ts = spacedTimesteps({
      spacing,
      steps: Number(n),
      trainTimesteps: 1000,
      stepsOffset: 1,
      points: name === "dpmsolver++2m" ? "steps+1" : "steps",
      fractional: name === "euler",
    });
    assert.deepEqual(ts, expected, key);
  }
});

for (const c of golden.cases) {
  const label = `${c.scheduler} ${c.spacing} ${c.prediction} N=${c.steps}` +
    `${c.eta ? ` eta=${c.eta}` : ""}${c.set_alpha_to_one ? " alpha_to_one" : ""} ${c.beta_schedule} final=${c.final_sigmas}`;
  test(`${label} matches the reference step by step`, () => {
    const s = createScheduler({
      name: c.scheduler,
      steps: c.steps,
      spacing: c.spacing,
      prediction: c.prediction,
      eta: c.eta ?? 0,
      betaSchedule: c.beta_schedule,
      ...(c.beta_start !== undefined ? { betaStart: c.beta_start, betaEnd: c.beta_end } : {}),
      stepsOffset: c.steps_offset,
      setAlphaToOne: c.set_alpha_to_one,
      finalSigmas: c.final_sigmas,
    });
    const expectedTimesteps = c.scheduler === "ddim_inverse" ? [...c.timesteps].reverse() : c.timesteps;
    assert.deepEqual(s.timesteps, expectedTimesteps);
    if (c.init_noise_sigma !== undefined) assertArrayClose([s.initNoiseSigma], [c.init_noise_sigma], "initNoiseSigma", 1e-12);
    if (c.scaled_input_0) assertArrayClose(s.scaleModelInput(Float32Array.from(c.sample), 0), c.scaled_input_0, "scaleModelInput");
    let state: SchedulerState = s.initialState();
    for (let k = 0; k < c.steps; k++) {
      const sample = Float32Array.from(k === 0 ? c.sample : c.samples[k - 1]);
      const r = s.step({
        stepIndex: k,
        modelOutput: Float32Array.from(c.outputs[k]),
        sample,
        state,
        shape: golden.shape,
        ...(c.noises.length ? { noise: fixedNoise(c.noises[k]) } : {}),
      });
      assertArrayClose(r.prevSample, c.samples[k], `step ${k} prevSample`);
      assertArrayClose(r.predOriginalSample, c.pred_original[k], `step ${k} predOriginalSample`);
      state = r.state;
    }
  });
}
