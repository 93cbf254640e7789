// All reference ops under one namespace (`ref.conv`, `ref.softmax`, ...).
export * from "./elementwise.js";
export * from "./conv.js";
export * from "./linalg.js";
export * from "./shape.js";
