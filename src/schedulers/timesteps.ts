// Which training timesteps a sampler visits: diffusers' three `timestep_spacing` rules (see "Common
// Diffusion Noise Schedules and Sample Steps are Flawed", Lin et al. 2024, table 2), reproduced with
// numpy's rounding (half to even) and numpy's arange/linspace arithmetic so the lists match exactly.
//
// Notation:
//   T       trainTimesteps
//   N       steps, the number of sampling steps
//   offset  stepsOffset (diffusers' steps_offset), added by "leading" only

export type TimestepSpacing = "leading" | "trailing" | "linspace";
export const TIMESTEP_SPACINGS: readonly TimestepSpacing[] = ["leading", "trailing", "linspace"];

export interface TimestepOptions {
  spacing: TimestepSpacing;
  /** N. */
  steps: number;
  /** T. */
  trainTimesteps: number;
  /** Added to "leading" timesteps (1 for Stable Diffusion / VidRD). */
  stepsOffset: number;
  /**
   * "steps": N points (DDIM, DDPM, Euler). "steps+1": N + 1 points of which the last (the clean end) is
   * dropped, as diffusers' DPM-Solver multistep scheduler spaces its linspace and leading lists.
   */
  points?: "steps" | "steps+1";
  /** Keep linspace's fractional timesteps (Euler interpolates sigma between them); default false. */
  fractional?: boolean;
}

/** Round half to even, as numpy.round. */
export function roundHalfEven(x: number): number {
  const n = Math.floor(x);
  const d = x - n;
  if (d > 0.5) return n + 1;
  if (d < 0.5) return n;
  return n % 2 === 0 ? n : n + 1;
}

/** numpy.linspace(a, b, n): a + i * ((b - a) / (n - 1)), the last point set to b. */
function numpyLinspace(a: number, b: number, n: number): number[] {
  if (n === 1) return [a];
  const step = (b - a) / (n - 1);
  const out = Array.from({ length: n }, (_, i) => a + i * step);
  out[n - 1] = b;
  return out;
}

/** numpy.arange(start, stop, step) for a float step: ceil((stop - start) / step) points start + i * delta. */
function numpyArange(start: number, stop: number, step: number): number[] {
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start; // numpy fills from its first two points
  return Array.from({ length: n }, (_, i) => (i === 0 ? start : i === 1 ? start + step : start + i * delta));
}

/** The sampling timesteps, noisiest first. */
export function spacedTimesteps(opts: TimestepOptions): number[] {
  const { spacing, steps: N, trainTimesteps: T, stepsOffset } = opts;
  const extra = opts.points === "steps+1" ? 1 : 0;
  switch (spacing) {
    case "linspace": {
      const ts = numpyLinspace(0, T - 1, N + extra).reverse();
      if (extra) ts.pop();
      return opts.fractional ? ts : ts.map(roundHalfEven);
    }
    case "leading": {
      // integer ratio T // N: every ratio-th step from 0, shifted by the offset
      const ratio = Math.floor(T / (N + extra));
      const ts = Array.from({ length: N + extra }, (_, i) => i * ratio).reverse();
      if (extra) ts.pop();
      return ts.map((t) => t + stepsOffset);
    }
    case "trailing": {
      // float ratio T / N counted down from T, so the first step is always T - 1
      const ratio = T / N;
      return numpyArange(T, 0, -ratio).map((t) => roundHalfEven(t) - 1);
    }
  }
}
