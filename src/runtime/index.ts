export { Session, SessionInputError, RuntimeUnavailableError, DEVICES, type Device, type SessionOptions, type TensorSpec } from "./session.js";
