#!/usr/bin/env node
// Launcher for the compiled CLI (npm install builds dist/ through the prepare script).
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("vidrd: dist/ is missing; run `npm install` (or `npm run build`) in the vidrd folder first\n");
  process.exit(1);
}
await import(entry.href);
