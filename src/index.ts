// The public library API of vidrd. The CLI and the server call only what is exported here.
export * from "./tensor/index.js";
export * from "./io/index.js";
export * from "./graph/index.js";
export * from "./runtime/index.js";
export * from "./schedulers/betas.js";
export * from "./train/index.js";
