export {
  Session,
  SessionInputError,
  SessionRunError,
  RuntimeUnavailableError,
  DEVICES,
  LARGE_MODEL_BYTES,
  resolveMemory,
  graphSignature,
  type GraphSignature,
  type Device,
  type SessionOptions,
  type TensorSpec,
} from "./session.js";
