export { Session, SessionInputError, SessionRunError, RuntimeUnavailableError, DEVICES, type Device, type SessionOptions, type TensorSpec } from "./session.js";
