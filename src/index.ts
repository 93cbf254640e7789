// The public library API of vidrd. The CLI and the server call only what is exported here.
export * from "./tensor/index.js";
export * from "./io/index.js";
export * from "./graph/index.js";
export * from "./runtime/index.js";
export * from "./schedulers/index.js";
export * from "./train/index.js";
export * from "./io/pth/index.js";
export * from "./models/weights/index.js";
export * from "./models/compiled/index.js";
export * from "./models/unet3d/index.js";
export * from "./models/vae/index.js";
export * from "./models/clip/index.js";
export * as nn from "./nn/index.js";
export * from "./pipelines/index.js";
export * from "./media/index.js";
export * from "./data/index.js";
export * from "./eval/index.js";
export * from "./app/index.js";
