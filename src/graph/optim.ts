// Training as graph ops: AdamW with clipping and EMA, and the compiled training step (see optim/).
export {
  type AdamWOptions,
  type ResolvedAdamW,
  type ParamGrad,
  type AdamWGraph,
  resolveAdamW,
  adamwScalars,
  globalNorm,
  addAdamWUpdate,
} from "./optim/adamw.js";
export {
  type TrainModel,
  type TrainModelBuilder,
  type TrainStepOptions,
  type TrainStep,
  type TrainStepGraphs,
  type StateTensor,
  type TensorShape,
  type BatchInput,
  buildTrainStep,
} from "./optim/train-step.js";
export * from "./optim/names.js";
