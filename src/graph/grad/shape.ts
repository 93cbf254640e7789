// Backward rules: being written (filled in by the shape rules work).
import type { GradRules } from "./types.js";

export const shapeRules: GradRules = {};
