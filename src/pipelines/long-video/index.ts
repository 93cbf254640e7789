// Long-video strategies behind one interface (types.ts), and the registry that names them.
export * from "./common.js";
export * from "./vidrd.js";
export * from "./independent.js";
export * from "./gen-l-video.js";
export * from "./freenoise.js";
export * from "./fifo.js";
export * from "./registry.js";
