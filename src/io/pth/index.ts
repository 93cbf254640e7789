// PyTorch checkpoints (`torch.save` files) read without Python and without executing anything.

export { PthError, PickleRefusedError } from "./errors.js";
export { PthFile, sniffPth, type PthFormat, type PthReadOptions } from "./pth-file.js";
export { TorchTensor, TorchStorage, STORAGE_TYPES, type TorchDType, type StorageType } from "./torch-tensor.js";
export { resolveTorchGlobal, type UnknownGlobals } from "./torch-globals.js";
export { unpickle, PickleTruncatedError, type UnpicklerOptions, type GlobalHandler, type GlobalResolution, type UnpickleResult } from "./unpickler.js";
export {
  PickleGlobal,
  PickleObject,
  dictAttributes,
  describePickleValue,
  isTuple,
  type PickleKey,
  type PickleValue,
  type PickleHostObject,
} from "./pickle-values.js";
export { ZipArchive, crc32, looksLikeZip, type ZipEntry } from "./zip-archive.js";
