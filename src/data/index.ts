// Training data (DESIGN.md, src/data/): the synthetic world, composing datasets from images, videos and
// the world, and the loader that feeds training.

export * from "./world/index.js";
export * from "./compose/index.js";
export * from "./dataset/index.js";
