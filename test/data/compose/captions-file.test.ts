// Captions files for image-text pairs: CSV (RFC 4180, lenient about unquoted commas) and JSONL.

import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parseCsv, readCaptionsFile } from "../../../src/data/compose/index.js";
import { withTempDir } from "./helpers.js";

const quote = (s: string): string => `"${s.replace(/"/g, '""')}"`;

test("parseCsv inverts RFC 4180 quoting for any fields", () => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.string({ unit: fc.constantFrom("a", "b", ",", '"', "\n", " ", "é") , maxLength: 6 }), { minLength: 2, maxLength: 3 }), { minLength: 1, maxLength: 5 }), (rows) => {
      const text = rows.map((r) => r.map(quote).join(",")).join("\r\n");
      assert.deepEqual(parseCsv(text).map((r) => r.fields), rows);
    }),
    { numRuns: 300, seed: 3 },
  );
});

test("CSV: header skipped, quoted commas and newlines, unquoted commas kept in the caption, problems by line", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "captions.csv");
    writeFileSync(file, '\ufeffpath,caption\na.jpg,a cat\n"b.jpg","a dog, running\nfast"\nc.jpg,a bird, flying, high\n\nd.jpg\n,no path\ne.jpg,\n');
    const { images, problems } = readCaptionsFile(file);
    assert.deepEqual(images.map((i) => [i.path, i.caption, i.line]), [
      ["a.jpg", "a cat", 2],
      ["b.jpg", "a dog, running\nfast", 3],
      ["c.jpg", "a bird, flying, high", 5],
      ["e.jpg", "", 9],
    ]);
    assert.deepEqual(problems.map((p) => p.line), [7, 8]);
    assert.match(problems[0].reason, /no caption/);
  });
});

test("JSONL: records, bad lines reported with their line number; unknown extensions and missing files throw", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "captions.jsonl");
    writeFileSync(file, '{"path": "a.png", "caption": " a cat "}\n\nnot json\n{"path": "b.png"}\n');
    const { images, problems } = readCaptionsFile(file);
    assert.deepEqual(images, [{ path: "a.png", caption: "a cat", line: 1 }]);
    assert.deepEqual(problems.map((p) => p.line), [3, 4]);
    assert.match(problems[1].reason, /caption/);
    assert.throws(() => readCaptionsFile(join(dir, "captions.txt")), /extension "\.txt"; allowed: \.csv .* or \.jsonl/);
    assert.throws(() => readCaptionsFile(join(dir, "missing.csv")), /cannot be read: ENOENT/);
  });
});
