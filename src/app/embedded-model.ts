// The model that ships inside the package, under assets/model (made by the project's own training).
// The same relative path works from src/app (tests, tsx) and from dist/app (the installed package).

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const EMBEDDED_MODEL_PATH = fileURLToPath(new URL("../../assets/model/", import.meta.url));

/** The embedded model's folder, or null when this build has none. VIDRD_EMBEDDED_MODEL overrides it. */
export function embeddedModelDir(): string | null {
  const dir = process.env.VIDRD_EMBEDDED_MODEL ?? EMBEDDED_MODEL_PATH;
  return existsSync(dir) ? dir : null;
}
