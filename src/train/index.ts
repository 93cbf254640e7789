// Training: the loop, its configuration, checkpoints, logs and the losses.
export {
  Trainer,
  TrainError,
  type TrainerOptions,
  type TrainResult,
  type BatchContext,
  type BatchFn,
} from "./trainer.js";
export {
  resolveTrainConfig,
  trajectoryDifferences,
  TrainConfigError,
  type TrainConfig,
  type TrainConfigInput,
  type LrScheduleConfig,
  type LrScheduleName,
  type CheckpointConfig,
  type LogConfig,
  type ProgressMode,
} from "./config.js";
export { learningRate } from "./lr-schedule.js";
export {
  CHECKPOINT_FORMAT,
  CheckpointError,
  CheckpointMismatchError,
  checkpointPath,
  listCheckpoints,
  listCorruptCheckpoints,
  readCheckpoint,
  writeCheckpoint,
  latestValidCheckpoint,
  pruneCheckpoints,
  type Checkpoint,
  type CheckpointMetadata,
} from "./checkpoint.js";
export { StepLog, Progress, readStepLog, TIMING_FIELDS, type StepRecord, type ProgressStream } from "./train-log.js";
export {
  mseLoss,
  l1Loss,
  gaussianKL,
  diffusionLoss,
  sampleDiffusionInputs,
  type DiffusionLoss,
  type DiffusionLossOptions,
} from "./losses.js";
