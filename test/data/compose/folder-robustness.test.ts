// Robustness of the dataset folder and the captions file against bad input: a second writer in the same
// process, a damaged dataset.json, temporaries a killed run left in the caption cache, an unterminated
// quote or a space before a quote in a CSV.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CAPTION_CACHE_FOLDER, DatasetFolder, composeDataset, parseCsv, readCaptionsFile, readDatasetInfo, worldSource } from "../../../src/data/compose/index.js";
import { withTempDir } from "./helpers.js";

const spec = { width: 32, height: 32, frames: 8, fps: 8 };

test("one process cannot open a folder twice: the second writer is refused and the first keeps its lock", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "out with spaces é");
    const first = DatasetFolder.open(out, spec);
    assert.throws(() => DatasetFolder.open(out, spec), /^DatasetFolderError: output .* is being written by another run in this process .*; wait for it or choose another folder$/);
    // a composition on the held folder is refused as well, and the lock is still the first writer's
    await assert.rejects(composeDataset([worldSource(spec, { seed: 1, clips: 1 })], { out, ...spec }), /being written by another run/);
    assert.equal(readFileSync(join(out, ".lock"), "utf8").trim(), String(process.pid));
    first.release();
    assert.equal(existsSync(join(out, ".lock")), false);
    // released: the folder opens again
    DatasetFolder.open(out, spec).release();
  });
});

test("a damaged dataset.json is a one-line error naming the file, and the lock is not left behind", async () => {
  await withTempDir(async (dir) => {
    writeFileSync(join(dir, "dataset.json"), '{"format": "vidrd-dataset", "width": 3');
    assert.throws(() => readDatasetInfo(dir), (e: Error) => e.name === "DatasetFolderError" && e.message.includes(join(dir, "dataset.json")) && /is not JSON .*allowed: the dataset\.json a vidrd data run wrote$/.test(e.message) && !e.message.includes("\n"));
    assert.throws(() => DatasetFolder.open(dir, spec), /dataset\.json is not JSON/);
    assert.equal(existsSync(join(dir, ".lock")), false);
    writeFileSync(join(dir, "dataset.json"), "null\n");
    assert.throws(() => readDatasetInfo(dir), /dataset\.json holds null; allowed/);
  });
});

test("temporaries a killed run left in the caption cache are removed when the folder is opened", async () => {
  await withTempDir(async (dir) => {
    const sub = join(dir, CAPTION_CACHE_FOLDER, "ab");
    mkdirSync(sub, { recursive: true });
    const stale = `.ab${"0".repeat(62)}.json.4242.0f1e2d3c-aaaa-bbbb-cccc-123456789abc.tmp`;
    writeFileSync(join(sub, stale), "{");
    writeFileSync(join(sub, `ab${"0".repeat(62)}.json`), '{"caption":"kept"}\n');
    DatasetFolder.open(dir, spec).release();
    assert.deepEqual(readdirSync(sub), [`ab${"0".repeat(62)}.json`]);
  });
});

test("CSV: an unterminated quote is a problem on its line and does not swallow the rows after it", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "captions.csv");
    writeFileSync(file, 'path,caption\na.jpg,a cat\nb.jpg,"a dog, running\nc.jpg,a bird\nd.jpg,a fish\n');
    const { images, problems } = readCaptionsFile(file);
    assert.deepEqual(images.map((i) => [i.path, i.caption, i.line]), [
      ["a.jpg", "a cat", 2],
      ["c.jpg", "a bird", 4],
      ["d.jpg", "a fish", 5],
    ]);
    assert.equal(problems.length, 1);
    assert.equal(problems[0].line, 3);
    assert.match(problems[0].reason, /^unterminated quote: the field opened on line 3 has no closing '"'; allowed: /);
  });
});

test("CSV: spaces before an opening quote do not turn the quotes into caption text", () => {
  assert.deepEqual(parseCsv('a.jpg, "a dog, running"\n"b c.jpg" ,  "say ""hi"""\n').map((r) => r.fields), [
    ["a.jpg", "a dog, running"],
    ["b c.jpg ", 'say "hi"'],
  ]);
});

test("a report that cannot be written fails the run with a one-line error, and the lock is released", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "out");
    mkdirSync(join(out, "report.json", "blocker"), { recursive: true });
    await assert.rejects(composeDataset([worldSource(spec, { seed: 1, clips: 2 })], { out, ...spec }), (e: Error) => /^the run's report .*report\.json could not be written: .*; the clips in the manifest are complete$/.test(e.message) && !e.message.includes("\n"));
    assert.equal(existsSync(join(out, ".lock")), false);
    // the clips are recorded: a re-run (report writable again) skips them all
    rmSync(join(out, "report.json"), { recursive: true });
    const again = await composeDataset([worldSource(spec, { seed: 1, clips: 2 })], { out, ...spec });
    assert.equal(again.made.length, 0);
    assert.equal(again.skipped.length, 2);
  });
});
