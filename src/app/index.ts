// The application layer: whole tasks (generate, extend, describe a model) over models, pipelines and media,
// with options validated once. What the CLI and the server call.
export * from "./generate-options.js";
export * from "./generate.js";
export * from "./video-model.js";
export * from "./model-folder-writer.js";
export * from "./embedded-model.js";
export * from "./scheduler-json.js";
export * from "./extend.js";
export * from "./model-info.js";
export * from "./json-file.js";
