// File formats vidrd reads and writes itself: safetensors weights and recorded noise.

export {
  SafetensorsError,
  SAFETENSORS_DTYPES,
  MAX_HEADER_BYTES,
  type SafetensorsDType,
  type SafetensorsTensorInfo,
} from "./safetensors-format.js";
export { SafetensorsFile, readSafetensors, type SafetensorsEntryInfo } from "./safetensors.js";
export {
  writeSafetensors,
  encodeSafetensors,
  type Float32Storage,
  type SafetensorsWriteOptions,
  type TensorCollection,
} from "./safetensors-writer.js";
export { ReplayNoise, RecordingNoise, ReplayNoiseError } from "./replay-noise.js";
export { compareNatural } from "./natural-order.js";
export { writeFileAtomic, writeAll } from "./atomic-file.js";
export { canonicalJson } from "./canonical-json.js";
