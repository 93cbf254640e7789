// Noise schedules of DDPM-style diffusion: the variances beta_t of the forward process and the cumulative
// products alpha_bar_t that training (x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps) and every
// sampler read. All in float64; a caller rounds once when it puts a table into a float32 graph.
//
// Notation (Ho et al. 2020, eq. 4; Nichol & Dhariwal 2021, eq. 17):
//   T            trainTimesteps
//   beta_t       betas[t], t = 0 .. T-1 (the paper's t = 1 .. T)
//   alpha_t      1 - beta_t
//   alpha_bar_t  alphasCumprod[t] = prod_{s <= t} alpha_s

export type BetaScheduleName = "linear" | "scaled_linear" | "squaredcos_cap_v2";
export const BETA_SCHEDULES: readonly BetaScheduleName[] = ["linear", "scaled_linear", "squaredcos_cap_v2"];

export interface BetaScheduleOptions {
  /** Default "scaled_linear" (Stable Diffusion, VidRD). */
  schedule?: BetaScheduleName;
  /** T, the number of training timesteps; default 1000. */
  trainTimesteps?: number;
  /** beta_0 of the linear schedules; default 0.00085 (SD). Unused by squaredcos_cap_v2. */
  betaStart?: number;
  /** beta_{T-1} of the linear schedules; default 0.012 (SD). Unused by squaredcos_cap_v2. */
  betaEnd?: number;
  /** Largest beta of squaredcos_cap_v2; default 0.999 (Nichol & Dhariwal, section 3.2). */
  maxBeta?: number;
}

/** n evenly spaced numbers from a to b inclusive, computed from both ends (as torch.linspace does). */
export function linspace(a: number, b: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = a;
    return out;
  }
  const step = (b - a) / (n - 1);
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < half ? a + step * i : b - step * (n - 1 - i);
  return out;
}

function validate(opts: BetaScheduleOptions): Required<BetaScheduleOptions> {
  const r = {
    schedule: opts.schedule ?? "scaled_linear",
    trainTimesteps: opts.trainTimesteps ?? 1000,
    betaStart: opts.betaStart ?? 0.00085,
    betaEnd: opts.betaEnd ?? 0.012,
    maxBeta: opts.maxBeta ?? 0.999,
  };
  if (!BETA_SCHEDULES.includes(r.schedule)) {
    throw new RangeError(`schedule is ${JSON.stringify(r.schedule)}; allowed: ${BETA_SCHEDULES.join(", ")}`);
  }
  if (!Number.isInteger(r.trainTimesteps) || r.trainTimesteps < 1) {
    throw new RangeError(`trainTimesteps is ${r.trainTimesteps}; allowed: an integer >= 1`);
  }
  for (const key of ["betaStart", "betaEnd", "maxBeta"] as const) {
    const v = r[key];
    if (!(Number.isFinite(v) && v > 0 && v < 1)) throw new RangeError(`${key} is ${v}; allowed: a number in (0, 1)`);
  }
  return r;
}

/**
 * alpha_bar(t) of the cosine schedule (Nichol & Dhariwal 2021, eq. 17, offset s = 0.008), before the
 * normalisation by alpha_bar(0), which cancels in the ratio below.
 */
function cosineAlphaBar(t: number): number {
  const c = Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2));
  return c * c;
}

/** beta_0 .. beta_{T-1} of a named schedule. */
export function betaSchedule(opts: BetaScheduleOptions = {}): Float64Array {
  const { schedule, trainTimesteps: T, betaStart, betaEnd, maxBeta } = validate(opts);
  switch (schedule) {
    case "linear":
      return linspace(betaStart, betaEnd, T);
    case "scaled_linear": {
      // linear in sqrt(beta) (Rombach et al. 2022, the LDM / SD schedule)
      const roots = linspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), T);
      return roots.map((r) => r * r);
    }
    case "squaredcos_cap_v2": {
      // beta_t = min(1 - alpha_bar((t+1)/T) / alpha_bar(t/T), maxBeta) (Nichol & Dhariwal, section 3.2)
      const out = new Float64Array(T);
      for (let i = 0; i < T; i++) out[i] = Math.min(1 - cosineAlphaBar((i + 1) / T) / cosineAlphaBar(i / T), maxBeta);
      return out;
    }
  }
}

/** alpha_bar_t = prod_{s <= t} (1 - beta_s), a running product in float64 (as torch.cumprod). */
export function alphasCumprod(betas: ArrayLike<number>): Float64Array {
  const out = new Float64Array(betas.length);
  let prod = 1;
  for (let i = 0; i < betas.length; i++) {
    const b = betas[i]!;
    if (!(b >= 0 && b <= 1)) throw new RangeError(`betas[${i}] is ${b}; allowed: a number in [0, 1]`);
    prod *= 1 - b;
    out[i] = prod;
  }
  return out;
}
