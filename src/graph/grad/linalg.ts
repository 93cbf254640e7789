// Backward rules: being written (filled in by the linalg rules work).
import type { GradRules } from "./types.js";

export const linalgRules: GradRules = {};
