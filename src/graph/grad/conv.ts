// Backward rules: being written (filled in by the conv rules work).
import type { GradRules } from "./types.js";

export const convRules: GradRules = {};
