// Windows of long videos: inside one label range and one shot, N frames each, and every span that can
// hold a clip holds one; ranges mapped between frame rates; class names as words; caption templates.

import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { captionFromTemplate, checkCaptionTemplate, labelFromClassName, planWindows, resampleRange } from "../../../src/data/compose/index.js";

test("planWindows: every window is N frames inside one range and one shot; spans long enough always get one", () => {
  const arbitrary = fc.record({
    frames: fc.integer({ min: 0, max: 300 }),
    N: fc.integer({ min: 1, max: 40 }),
    stride: fc.integer({ min: 1, max: 50 }),
    cuts: fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 8 }),
    bounds: fc.option(fc.array(fc.integer({ min: 0, max: 320 }), { minLength: 2, maxLength: 10 }), { nil: undefined }),
  });
  fc.assert(
    fc.property(arbitrary, ({ frames, N, stride, cuts, bounds }) => {
      const sorted = bounds === undefined ? null : [...new Set(bounds)].sort((a, b) => a - b);
      const ranges = sorted === null ? null : sorted.slice(1).map((end, k) => ({ start: sorted[k], end, label: `l${k}` }));
      const { windows, dropped } = planWindows(frames, ranges, cuts, { clipFrames: N, stride });
      for (const w of windows) {
        assert.equal(w.end - w.start, N);
        assert.ok(w.start >= 0 && w.end <= frames);
        assert.ok(!cuts.some((c) => c > w.start && c < w.end), `window ${w.start}-${w.end} straddles a cut`);
        if (ranges !== null) {
          const owner = ranges.find((r) => r.label === w.label)!;
          assert.ok(w.start >= owner.start && w.end <= owner.end, `window ${w.start}-${w.end} leaves its range ${owner.start}-${owner.end}`);
        }
      }
      // every maximal stretch without a cut or range boundary of >= N frames has a window in it
      const spans = ranges ?? [{ start: 0, end: frames }];
      for (const r of spans) {
        const edges = [Math.max(0, r.start), ...cuts.filter((c) => c > r.start && c < Math.min(frames, r.end)).sort((a, b) => a - b), Math.min(frames, r.end)];
        for (let k = 0; k + 1 < edges.length; k++) {
          const [s, e] = [edges[k], edges[k + 1]];
          if (e - s >= N) {
            const inside = windows.filter((w) => w.start >= s && w.end <= e);
            assert.equal(inside.length, Math.floor((e - s - N) / stride) + 1, `span ${s}-${e}`);
          }
        }
      }
      for (const d of dropped) assert.match(d.reason, /fewer than|past the video/);
    }),
    { numRuns: 400, seed: 7 },
  );
});

test("planWindows centres the windows and reports what it drops", () => {
  const plan = planWindows(100, [{ start: 0, end: 30, label: "a" }, { start: 30, end: 40, label: "b" }, { start: 40, end: 100, label: "c" }], [60], { clipFrames: 16, stride: 16 });
  assert.deepEqual(plan.windows.map((w) => [w.start, w.end, w.label]), [[7, 23, "a"], [42, 58, "c"], [64, 80, "c"], [80, 96, "c"]]);
  assert.deepEqual(plan.windows[1].range, [40, 100]);
  assert.equal(plan.dropped.length, 1);
  assert.match(plan.dropped[0].reason, /range 30-40 has 10 frames, fewer than the 16 a clip needs/);
  const past = planWindows(20, [{ start: 30, end: 60 }], [], { clipFrames: 8, stride: 8 });
  assert.match(past.dropped[0].reason, /starts at frame 30, past the video's 20 frames/);
});

test("resampleRange keeps frames that are the range's own at the new rate", () => {
  assert.deepEqual(resampleRange(10, 50, 8, 8), [10, 50]);
  // 25 fps -> 8 fps: [40, 100) is [1.6 s, 4 s): output frames 13 (1.625 s) .. 31 (3.875 s); one given up at each end
  assert.deepEqual(resampleRange(40, 100, 25, 8), [14, 31]);
  assert.deepEqual(resampleRange(0, 100, 25, 8), [0, 31]);
});

test("class folder names as words", () => {
  assert.equal(labelFromClassName("ApplyEyeMakeup"), "apply eye makeup");
  assert.equal(labelFromClassName("YoYo"), "yo yo");
  assert.equal(labelFromClassName("HandstandPushups"), "handstand pushups");
  assert.equal(labelFromClassName("HTTPServer"), "http server");
  assert.equal(labelFromClassName("Playing_Dhol-2"), "playing dhol 2");
  assert.equal(labelFromClassName("jump"), "jump");
});

test("caption templates", () => {
  assert.equal(captionFromTemplate("a person {label}", "apply eye makeup"), "a person apply eye makeup");
  assert.equal(captionFromTemplate("{label}: a video of {label}", "yo yo"), "yo yo: a video of yo yo");
  assert.throws(() => checkCaptionTemplate("a person"), /caption template is "a person"; allowed: text containing \{label\}/);
  assert.throws(() => checkCaptionTemplate("{label} at {place}"), /has the field \{place\}; allowed: \{label\} only/);
});
