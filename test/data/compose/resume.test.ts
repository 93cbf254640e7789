// A run killed midway and run again ends with the same manifest as an uninterrupted run (nothing
// duplicated, nothing lost); bad inputs are reported and skipped; inputs are never modified.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readManifest } from "../../../src/data/compose/index.js";
import { hashTree, manifestLines, withTempDir } from "./helpers.js";
import { makeInputs } from "./fixtures/inputs.js";

const script = fileURLToPath(new URL("./fixtures/compose-run.ts", import.meta.url));

interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  counts: { made: number; skipped: number; rejected: { input: string; clip?: string; reason: string }[]; dropped: number; repaired: number } | null;
}

function run(out: string, root: string, killWritten = -1, killRecorded = -1, jobs = 1): RunResult {
  const r = spawnSync(process.execPath, ["--import", "tsx", script, out, root, String(killWritten), String(killRecorded), String(jobs)], { encoding: "utf8" });
  if (r.status !== 0 && r.signal !== "SIGKILL") throw new Error(`compose-run failed: ${r.stderr}`);
  return { status: r.status, signal: r.signal, counts: r.status === 0 ? JSON.parse(r.stdout.trim().split("\n").pop()!) : null };
}

function clipFiles(out: string): string[] {
  const clips = join(out, "clips");
  return readdirSync(clips).flatMap((shard) => readdirSync(join(clips, shard)).map((f) => `${shard}/${f} ${statSync(join(clips, shard, f)).size}`)).sort();
}

test("kill and resume: the same manifest and clips as an uninterrupted run; bad inputs reported; inputs untouched", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "inputs");
    await makeInputs(root);
    const before = hashTree(root);

    const whole = join(dir, "whole");
    const full = run(whole, root);
    assert.equal(full.status, 0);
    const expected = manifestLines(whole);
    assert.ok(full.counts!.made >= 10, `made ${full.counts!.made}`);
    assert.equal(expected.length, full.counts!.made);

    // why each bad input was rejected
    const reasons = Object.fromEntries(full.counts!.rejected.map((r) => [r.input, r.reason]));
    assert.match(reasons["corrupt.png"], /^corrupt or unreadable image: /);
    assert.match(reasons["tiny.png"], /^too small: 8x8/);
    assert.match(reasons["missing.png"], /^unreadable: .*missing\.png: does not exist/);
    assert.match(reasons["empty.png"], /^no caption/);
    assert.match(reasons["garbage.mp4"], /^corrupt or unreadable: /);
    assert.match(reasons["short.mp4"], /^too short: 5 frames at 8 fps; a clip needs 8/);
    assert.match(reasons["gone.mp4"], /^unreadable: .*gone\.mp4: does not exist/);
    assert.ok(Object.keys(reasons).some((k) => /list\.jsonl:5$/.test(k) && /^bad record: line 5: not JSON/.test(reasons[k])));
    // a corrupt image's two pseudo-videos are both rejected, with the input named
    assert.equal(full.counts!.rejected.filter((r) => r.input === "corrupt.png").length, 2);

    // killed right after the 3rd clip file (before its line), then after the 6th line, then finished;
    // the middle run composes two units at once, which must not change a path or a line
    const broken = join(dir, "resumed");
    const first = run(broken, root, 3, -1);
    assert.equal(first.signal, "SIGKILL");
    assert.equal(manifestLines(broken).length, 2);
    const second = run(broken, root, -1, 4, 2);
    assert.equal(second.signal, "SIGKILL");
    assert.equal(manifestLines(broken).length, 6);
    assert.ok(existsSync(join(broken, ".lock")), "a killed run leaves its lock, which the next run takes over");
    const last = run(broken, root);
    assert.equal(last.status, 0);
    assert.equal(last.counts!.skipped, 6);
    assert.equal(last.counts!.made, full.counts!.made - 6);
    assert.deepEqual(manifestLines(broken), expected);
    assert.deepEqual(clipFiles(broken), clipFiles(whole));
    assert.deepEqual(last.counts!.rejected, full.counts!.rejected);

    // a run over a finished folder makes nothing and changes nothing
    const again = run(whole, root);
    assert.deepEqual([again.counts!.made, again.counts!.skipped], [0, full.counts!.made]);
    assert.deepEqual(manifestLines(whole), expected);

    // no temporaries left, ids unique, every line's file present with its size
    for (const out of [whole, broken]) {
      assert.deepEqual(readdirSync(out).filter((n) => n.includes(".tmp")), []);
      const entries = readManifest(out);
      assert.equal(new Set(entries.map((e) => e.id)).size, entries.length);
      for (const e of entries) assert.equal(statSync(join(out, e.path)).size, e.bytes);
      const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as { stopped?: string };
      assert.equal(report.stopped, undefined);
    }
    assert.equal(hashTree(root), before, "the inputs were modified");
  });
});
