// createScheduler: the one entry point from a config to a Scheduler (validated in config.ts).

import { alphasCumprod, betaSchedule } from "./betas.js";
import { resolveSchedulerConfig, type SchedulerConfig } from "./config.js";
import { ddimInverseScheduler, ddimScheduler } from "./ddim.js";
import { ddpmScheduler } from "./ddpm.js";
import { dpmSolverScheduler, type DpmSolverState } from "./dpm-solver.js";
import { eulerScheduler } from "./euler.js";
import { spacedTimesteps } from "./timesteps.js";
import type { Scheduler } from "./types.js";

/** The state a step may carry: DPM-Solver++'s previous x_0, or null. */
export type SchedulerState = DpmSolverState | null;

export function createScheduler(config: SchedulerConfig = {}): Scheduler<SchedulerState> {
  const c = resolveSchedulerConfig(config);
  const T = c.trainTimesteps;
  const abar = alphasCumprod(betaSchedule({ schedule: c.betaSchedule, trainTimesteps: T, betaStart: c.betaStart, betaEnd: c.betaEnd }));
  const timesteps = spacedTimesteps({
    spacing: c.spacing,
    steps: c.steps,
    trainTimesteps: T,
    stepsOffset: c.stepsOffset,
    points: c.name === "dpmsolver++2m" ? "steps+1" : "steps",
    fractional: c.name === "euler",
  });
  const outside = timesteps.find((t) => !(t >= 0 && t <= T - 1));
  if (outside !== undefined) {
    throw new RangeError(
      `steps ${c.steps} with spacing ${c.spacing} and stepsOffset ${c.stepsOffset} gives timestep ${outside}; allowed: timesteps in [0, ${T - 1}] (lower stepsOffset or steps)`,
    );
  }
  // Scheduler<null> and Scheduler<DpmSolverState> are both Scheduler<SchedulerState> to a caller that
  // passes back exactly the state it received.
  switch (c.name) {
    case "ddim":
      return ddimScheduler(c, abar, timesteps) as Scheduler<SchedulerState>;
    case "ddim_inverse":
      return ddimInverseScheduler(c, abar, timesteps) as Scheduler<SchedulerState>;
    case "ddpm":
      return ddpmScheduler(c, abar, timesteps) as Scheduler<SchedulerState>;
    case "dpmsolver++2m":
      return dpmSolverScheduler(c, abar, timesteps) as Scheduler<SchedulerState>;
    case "euler":
      return eulerScheduler(c, abar, timesteps) as Scheduler<SchedulerState>;
  }
}
