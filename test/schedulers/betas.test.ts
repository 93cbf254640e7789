import { test } from "node:test";
import assert from "node:assert/strict";
import { alphasCumprod, betaSchedule, linspace, type BetaScheduleName } from "../../src/schedulers/betas.js";

// Golden values from PyTorch 1.13 in float64 (an independent reference), T = 1000, printed with repr:
//   linear:            torch.linspace(0.0001, 0.02, 1000, dtype=torch.float64)
//   scaled_linear:     torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
//   squaredcos_cap_v2: f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
//                      torch.tensor([min(1 - f((i + 1) / T) / f(i / T), 0.999) for i in range(T)], dtype=torch.float64)
//   alphas_cumprod:    torch.cumprod(1.0 - betas, dim=0)
// (run with /usr/bin/python3; the indices below are 0, 1, 2, 499, 500, 998, 999)
const INDICES = [0, 1, 2, 499, 500, 998, 999];
const GOLDEN: Record<BetaScheduleName, { betas: number[]; abar: number[] }> = {
  linear: {
    betas: [0.0001, 0.00011991991991991993, 0.00013983983983983984, 0.01004004004004004, 0.01005995995995996, 0.019980080080080082, 0.02],
    abar: [0.9999, 0.9997800920720721, 0.9996402829841216, 0.07858724288177824, 0.07779665836502389, 4.118193638138445e-05, 4.035829765375676e-05],
  },
  scaled_linear: {
    betas: [0.00085, 0.0008546986554056862, 0.0008594102617247102, 0.004803792980550717, 0.004814954141711878, 0.011982376333083366, 0.012],
    abar: [0.99915, 0.9982960278384514, 0.997438081987888, 0.27766965045646774, 0.2763326838229747, 0.00471669889987575, 0.004660098513077241],
  },
  squaredcos_cap_v2: {
    betas: [4.128422482196914e-05, 4.614175273665033e-05, 5.099948119891007e-05, 0.0031458862304780677, 0.003155691441585007, 0.7499993929011166, 0.999],
    abar: [0.999958715775178, 0.9999125759273678, 0.9998615809047513, 0.4938435904406382, 0.49228517244880304, 2.4287669070348544e-06, 2.4287669070348567e-09],
  },
};

function assertRelClose(actual: number, expected: number, rtol: number, label: string): void {
  const err = Math.abs(actual - expected) / Math.abs(expected);
  assert.ok(err <= rtol, `${label}: ${actual} vs ${expected} (relative error ${err.toExponential(2)} > ${rtol})`);
}

for (const schedule of Object.keys(GOLDEN) as BetaScheduleName[]) {
  test(`${schedule} betas and alphas_cumprod match PyTorch float64`, () => {
    const opts = schedule === "linear" ? { schedule, betaStart: 0.0001, betaEnd: 0.02 } : { schedule };
    const betas = betaSchedule(opts);
    const abar = alphasCumprod(betas);
    assert.equal(betas.length, 1000);
    INDICES.forEach((t, k) => {
      assertRelClose(betas[t]!, GOLDEN[schedule].betas[k]!, 1e-13, `${schedule} beta[${t}]`);
      // a product of 1000 factors: a few ulp per factor at most
      assertRelClose(abar[t]!, GOLDEN[schedule].abar[k]!, 1e-12, `${schedule} alpha_bar[${t}]`);
    });
  });
}

test("the schedule defaults are Stable Diffusion's (scaled_linear 0.00085 -> 0.012 over 1000 steps)", () => {
  const abar = alphasCumprod(betaSchedule());
  assertRelClose(abar[999]!, GOLDEN.scaled_linear.abar[6]!, 1e-12, "default alpha_bar[999]");
});

test("squaredcos_cap_v2 caps beta at maxBeta and alpha_bar decreases strictly", () => {
  const betas = betaSchedule({ schedule: "squaredcos_cap_v2", trainTimesteps: 50, maxBeta: 0.5 });
  assert.equal(Math.max(...betas), 0.5);
  const abar = alphasCumprod(betas);
  for (let t = 1; t < abar.length; t++) assert.ok(abar[t]! < abar[t - 1]!, `alpha_bar[${t}] < alpha_bar[${t - 1}]`);
});

test("linspace hits both ends exactly and is symmetric", () => {
  const x = linspace(0.1, 0.7, 7);
  assert.equal(x[0], 0.1);
  assert.equal(x[6], 0.7);
  assert.deepEqual(Array.from(linspace(3, 3, 1)), [3]);
});

test("invalid options name the field, the value and what is allowed", () => {
  assert.throws(() => betaSchedule({ schedule: "cosine" as BetaScheduleName }), /schedule is "cosine"; allowed: linear, scaled_linear, squaredcos_cap_v2/);
  assert.throws(() => betaSchedule({ trainTimesteps: 0 }), /trainTimesteps is 0; allowed: an integer >= 1/);
  assert.throws(() => betaSchedule({ betaEnd: 1.5 }), /betaEnd is 1.5; allowed: a number in \(0, 1\)/);
  assert.throws(() => alphasCumprod([0.1, -0.2]), /betas\[1\] is -0.2/);
});
