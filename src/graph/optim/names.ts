// Names of the tensors a training step reads and writes. A state tensor `s` carried from one step to the
// next is a graph input named `s` and comes back as the output `next.s` (ONNX forbids an output that is
// also an input's name). Trainable parameters are carried the same way, under their own names.

/** Adam's first moment m of a parameter. */
export const adamM = (param: string): string => `adam.m.${param}`;
/** Adam's second moment v of a parameter. */
export const adamV = (param: string): string => `adam.v.${param}`;
/** The exponential moving average of a parameter. */
export const emaOf = (param: string): string => `ema.${param}`;
/** The running sum of micro-batch gradients of a parameter (gradient accumulation). */
export const gradSum = (param: string): string => `grad_sum.${param}`;
/** The output that carries the new value of the input `name`. */
export const nextOf = (name: string): string => `next.${name}`;

/** Scalar inputs of the update: the learning rate and Adam's bias corrections 1 - beta^t (host float64). */
export const LR_INPUT = "optim.lr";
export const BIAS_CORRECTION1_INPUT = "optim.bias_correction1";
export const BIAS_CORRECTION2_INPUT = "optim.bias_correction2";

/** Scalar outputs: the (micro-batch) loss and the global gradient norm before clipping. */
export const LOSS_OUTPUT = "loss";
export const GRAD_NORM_OUTPUT = "grad_norm";
/** A scalar the model reports besides the loss (averaged over micro-batches by the trainer). */
export const metricOutput = (name: string): string => `metric.${name}`;
