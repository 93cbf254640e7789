// Loading model weights: state dicts from safetensors files, torch checkpoints, diffusers folders and
// Lightning checkpoints; key checks against a model; the config a part goes with.

export {
  StateDict,
  WeightsError,
  conversionNotes,
  stateDictFromSafetensors,
  stateDictFromTensors,
  stateDictFromTorch,
  type FloatDType,
  type TensorEntry,
} from "./state-dict.js";
export { checkKeys, formatKeyReport, parseKeyShapeList, KeyCheckError, type CheckKeysOptions, type KeyReport, type ShapeMismatch } from "./check-keys.js";
export { openWeights, loadStateDict, type OpenWeightsOptions, type OpenedWeights, type WeightsLayout } from "./open-weights.js";
export { MODEL_PARTS, isModelPart, knownPartConfig, type ModelPart } from "./part-configs.js";
