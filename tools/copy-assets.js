// Copies the non-TypeScript files that src/ modules load at run time into dist/ after tsc.
import { cpSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const files = ["graph/onnx/onnx.proto"];
for (const f of files) {
  mkdirSync(dirname(join(root, "dist", f)), { recursive: true });
  cpSync(join(root, "src", f), join(root, "dist", f));
}
