// Backward rules: being written (filled in by the norm rules work).
import type { GradRules } from "./types.js";

export const normRules: GradRules = {};
