// Progress output: a redrawn bar on a terminal, a few plain lines per clip elsewhere; number formats.

import assert from "node:assert/strict";
import { test } from "node:test";
import { formatBytes, formatCount, formatDuration } from "../../src/cli/format.js";
import { PLAIN_EVERY, ProgressReporter, progressBar, progressText } from "../../src/cli/progress.js";

function stream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, isTTY, columns: 60, write: (t: string) => writes.push(t) };
}

const progress = (clip: number, step: number, steps = 50, etaSeconds?: number) => ({ clip, clips: 3, step, steps, evaluations: clip * steps + step, etaSeconds });

test("plain output: a line at a clip's first and last step and every PLAIN_EVERY steps, not one per step", () => {
  const out = stream(false);
  const reporter = new ProgressReporter(out, "");
  for (let step = 1; step <= 50; step++) reporter.update(progress(1, step, 50, 100 - step));
  assert.equal(PLAIN_EVERY, 10);
  assert.deepEqual(
    out.writes.map((w) => /step (\d+)\//.exec(w)![1]),
    ["1", "10", "20", "30", "40", "50"],
  );
  assert.equal(out.writes[0], "clip 2/3, step 1/50, ETA 1m39s\n");
  const short = stream(false);
  for (let step = 1; step <= 4; step++) new ProgressReporter(short, "").update(progress(0, step, 4));
  assert.equal(short.writes.length, 2);
});

test("terminal output: one line redrawn in place, cut to the width; notes print above it", () => {
  const out = stream(true);
  const reporter = new ProgressReporter(out, "");
  reporter.update(progress(0, 12, 50, 83));
  assert.equal(out.writes[0], `\r\x1b[Kclip 1/3 ${progressBar(12, 50)} step 12/50  ETA 1m23s`);
  assert.ok(!out.writes[0]!.includes("\n"));
  reporter.note("vidrd generate: warning: prompt cut");
  assert.deepEqual(out.writes.slice(1), ["\r\x1b[K", "vidrd generate: warning: prompt cut\n"]);
  reporter.clear(); // nothing shown any more: nothing to clear
  assert.equal(out.writes.length, 3);
  const narrow = { ...stream(true), columns: 20 };
  new ProgressReporter(narrow, "").update(progress(2, 1, 50, 5));
  assert.equal(narrow.writes[0]!.length, "\r\x1b[K".length + 19);
});

test("the inversion phase of extend is named as such", () => {
  assert.equal(progressText({ clip: 0, clips: 1, step: 3, steps: 50, evaluations: 3 }, "inversion"), "inverting the input's last clip, step 3/50");
});

test("bars, durations, bytes and counts", () => {
  assert.equal(progressBar(0, 50, 10), "[----------]");
  assert.equal(progressBar(25, 50, 10), "[#####-----]");
  assert.equal(progressBar(50, 50, 10), "[##########]");
  assert.equal(progressBar(60, 50, 10), "[##########]");
  assert.deepEqual([0, 42.4, 59.6, 185, 3599, 3720, 90061].map(formatDuration), ["0s", "42s", "1m00s", "3m05s", "59m59s", "1h02m", "25h01m"]);
  assert.deepEqual([0, 1023, 1536, 4.5 * 1024 ** 2, 3 * 1024 ** 3].map(formatBytes), ["0 bytes", "1023 bytes", "1.50 KiB", "4.50 MiB", "3.00 GiB"]);
  assert.equal(formatCount(1109732), "1,109,732");
});

test("progress is best-effort: a closed pipe (EPIPE) on the stream is ignored, other errors are not", () => {
  const epipe = Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
  const closed = { isTTY: false, write: () => { throw epipe; } };
  const reporter = new ProgressReporter(closed, "");
  reporter.update(progress(0, 1));
  reporter.note("a warning");
  const tty = new ProgressReporter({ isTTY: true, columns: 60, write: () => { throw epipe; } }, "");
  tty.update(progress(0, 1));
  tty.clear();
  const broken = new ProgressReporter({ isTTY: false, write: () => { throw new TypeError("a bug"); } }, "");
  assert.throws(() => broken.update(progress(0, 1)), /a bug/);
});
