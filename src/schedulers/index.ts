// Samplers: model-agnostic, pure steps on float32 latents of any shape (types.ts shows the loop).
export * from "./betas.js";
export { spacedTimesteps, roundHalfEven, TIMESTEP_SPACINGS, type TimestepSpacing, type TimestepOptions } from "./timesteps.js";
export { dataAndNoise, PREDICTION_TYPES, type PredictionType, type DataAndNoise } from "./prediction.js";
export { resolveSchedulerConfig, SCHEDULER_NAMES, FINAL_SIGMAS, type SchedulerConfig, type ResolvedSchedulerConfig, type SchedulerName, type FinalSigmas } from "./config.js";
export type { Scheduler, StepArgs, StepResult } from "./types.js";
export { ddimScheduler, ddimInverseScheduler, ddimUpdate, ddimNoiseStd } from "./ddim.js";
export { ddpmScheduler } from "./ddpm.js";
export { dpmSolverScheduler, type DpmSolverState } from "./dpm-solver.js";
export { eulerScheduler, sigmaAt } from "./euler.js";
export { createScheduler, type SchedulerState } from "./create.js";
