// Clip ids: a hash of everything that decides a clip (its input's identity, the window, the output size and
// rate, the caption recipe, the seed), so the same run gives the same ids and a re-run knows what is done.

import { createHash } from "node:crypto";
import { canonicalJson } from "../../io/canonical-json.js";


/** 16 hex digits (64 bits) of sha256 over the canonical JSON of `parts`: collisions need ~4e9 clips. */
export function clipId(parts: unknown): string {
  return createHash("sha256").update(canonicalJson(parts)).digest("hex").slice(0, 16);
}

/** A seed for the clip's own random draws (its camera path), from its id: an integer below 2^52. */
export function seedFromId(id: string): number {
  return Number.parseInt(id.slice(0, 13), 16);
}
