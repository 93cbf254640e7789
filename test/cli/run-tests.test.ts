// tools/run-tests.js finds the repository from its own location: that must work under a path with spaces.

import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url));

test("run-tests.js works from a directory whose path has spaces, also where import.meta.dirname is missing (Node 20.10)", () => {
  const base = mkdtempSync(join(tmpdir(), "vidrd run tests "));
  try {
    const root = join(base, "a repo with spaces");
    mkdirSync(join(root, "tools"), { recursive: true });
    mkdirSync(join(root, "test"));
    symlinkSync(join(repo, "node_modules"), join(root, "node_modules"), "dir");
    writeFileSync(join(root, "test", "ok.test.ts"), 'import { test } from "node:test";\ntest("ran", () => {});\n');
    const script = readFileSync(join(repo, "tools", "run-tests.js"), "utf8");
    // as on Node 20.10, which has no import.meta.dirname
    writeFileSync(join(root, "tools", "run-tests.js"), script.replaceAll("import.meta.dirname", "undefined"));
    cpSync(join(repo, "package.json"), join(root, "package.json"));
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT; // else the inner test run reports to this one instead of printing
    const r = spawnSync(process.execPath, [join(root, "tools", "run-tests.js")], { cwd: base, encoding: "utf8", env });
    assert.equal(r.status, 0, `exit ${r.status}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /pass 1/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
