import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { Tensor } from "../../src/tensor/tensor.js";
import type { TextEncoder } from "../../src/pipelines/conditioning.js";
import {
  type ConditionedRange,
  type PromptSchedule,
  clipFrameRange,
  encodePromptRanges,
  parsePromptSchedule,
  promptRanges,
  readPromptSchedule,
  scheduledPromptSource,
} from "../../src/pipelines/prompt-schedule.js";
import { promptOf } from "./helpers.js";

const ranges = (...r: [number, number][]): PromptSchedule => ({ kind: "ranges", ranges: r.map(([from, to], k) => ({ from, to, prompt: `p${k}` })) });

test("ranges tiling the video resolve with the schedule's negative prompt as default", () => {
  const s: PromptSchedule = { kind: "ranges", negativePrompt: "watermark", ranges: [{ from: 0, to: 8, prompt: "a" }, { from: 8, to: 16, prompt: "b", negativePrompt: "blur" }] };
  assert.deepEqual(promptRanges(s, 16), [
    { from: 0, to: 8, prompt: "a", negativePrompt: "watermark" },
    { from: 8, to: 16, prompt: "b", negativePrompt: "blur" },
  ]);
  assert.equal(promptRanges(ranges([0, 16]), 16)[0]!.negativePrompt, "");
});

test("per-clip prompts become the strategy's clip frame ranges", () => {
  const geometry = { firstClipFrames: 8, framesPerClip: 4 }; // vidrd default mode, N = 8, M = 4
  assert.deepEqual([0, 1, 2].map((k) => clipFrameRange(k, geometry)), [[0, 8], [8, 12], [12, 16]]);
  const s: PromptSchedule = { kind: "clips", clips: [{ prompt: "a" }, { prompt: "b" }, { prompt: "c" }] };
  assert.deepEqual(promptRanges(s, 16, geometry).map((r) => [r.from, r.to, r.prompt]), [[0, 8, "a"], [8, 12, "b"], [12, 16, "c"]]);
  assert.throws(() => promptRanges(s, 20, geometry), /prompt schedule ends with clips\[2\] at frame 16: frames \[16, 20\) have no prompt/);
  assert.throws(() => promptRanges(s, 12, geometry), /prompt schedule clips\[2\] \[12, 16\) is out of range: the video has 12 frames/);
  assert.throws(() => promptRanges(s, 16), /a per-clip prompt schedule needs the clip geometry/);
});

test("gaps, overlaps, unsorted entries, empty and out-of-range entries fail naming the entry", () => {
  const cases: [PromptSchedule, number, RegExp][] = [
    [ranges([0, 8], [10, 16]), 16, /prompt schedule ranges\[1\] \[10, 16\) leaves a gap: frames \[8, 10\) have no prompt/],
    [ranges([2, 16]), 16, /ranges\[0\] \[2, 16\) leaves a gap: frames \[0, 2\) have no prompt/],
    [ranges([0, 8], [6, 16]), 16, /ranges\[1\] \[6, 16\) overlaps ranges\[0\] \[0, 8\): frames \[6, 8\) have two prompts/],
    [ranges([0, 8], [8, 12], [4, 16]), 16, /ranges\[2\] \[4, 16\) starts before ranges\[1\] \[8, 12\); entries must be sorted by from/],
    [ranges([0, 8], [8, 20]), 16, /ranges\[1\] \[8, 20\) is out of range: the video has 16 frames, \[0, 16\)/],
    [ranges([0, 8], [8, 12]), 16, /ends with ranges\[1\] at frame 12: frames \[12, 16\) have no prompt/],
    [ranges([0, 8], [8, 8]), 16, /ranges\[1\] \[8, 8\): allowed: integers 0 <= from < to/],
    [ranges([-2, 16]), 16, /ranges\[0\] \[-2, 16\): allowed: integers 0 <= from < to/],
    [{ kind: "ranges", ranges: [] }, 16, /prompt schedule is empty/],
  ];
  for (const [s, total, message] of cases) assert.throws(() => promptRanges(s, total), message);
});

const cond = (v: number) => promptOf(v, [1, 2, 2]);

test("a range inside one entry gets its conditioning; a straddling range the frame-share blend", () => {
  const a = cond(1);
  const b = cond(5);
  const source = scheduledPromptSource([{ from: 0, to: 8, conditioning: a }, { from: 8, to: 16, conditioning: b }]);
  assert.equal(source(0, 8), a, "the same object, no copy");
  assert.equal(source(10, 16), b);
  // transition clip [4, 12): half its frames in each entry
  const half = source(4, 12);
  assert.deepEqual([...half.cond.data], [3, 3, 3, 3]);
  assert.deepEqual([...half.uncond.data], [-3, -3, -3, -3]);
  // [6, 14): 2 frames of a, 6 of b -> 0.25 * 1 + 0.75 * 5
  assert.deepEqual([...source(6, 14).cond.data], [4, 4, 4, 4]);
  // three entries: [2, 10) of [0,4) [4,6) [6,16) -> 2/8 * 1 + 2/8 * 9 + 4/8 * 5
  const three = scheduledPromptSource([{ from: 0, to: 4, conditioning: a }, { from: 4, to: 6, conditioning: cond(9) }, { from: 6, to: 16, conditioning: b }]);
  assert.deepEqual([...three(2, 10).cond.data], [5, 5, 5, 5]);
  // frames outside the schedule count for the nearest entry
  assert.equal(source(-4, 4), a);
  assert.equal(source(14, 20), b);
  assert.equal(source(30, 34), b);
  assert.throws(() => source(5, 5), /prompt frames \[5, 5\); allowed: integers start < end/);
});

test("conditioned ranges must tile and share one embedding shape", () => {
  assert.throws(() => scheduledPromptSource([{ from: 0, to: 4, conditioning: cond(1) }, { from: 5, to: 8, conditioning: cond(1) }]), /frames \[4, 5\) have no prompt/);
  const odd: ConditionedRange[] = [{ from: 0, to: 4, conditioning: cond(1) }, { from: 4, to: 8, conditioning: promptOf(1, [1, 2, 3]) }];
  assert.throws(() => scheduledPromptSource(odd), /ranges\[1\] has embeddings float32\[1, 2, 3\] but ranges\[0\] has float32\[1, 2, 2\]/);
});

test("each distinct prompt pair is encoded once", async () => {
  const seen: string[][] = [];
  const encoder: TextEncoder = {
    async encode(texts) {
      seen.push(texts);
      return new Tensor("float32", new Float32Array(2 * 4).fill(texts[1]!.length), [2, 2, 2]);
    },
  };
  const r = promptRanges({ kind: "clips", clips: [{ prompt: "a" }, { prompt: "bb" }, { prompt: "a" }] }, 24, { firstClipFrames: 8, framesPerClip: 8 });
  const encoded = await encodePromptRanges(r, encoder);
  assert.deepEqual(seen, [["", "a"], ["", "bb"]]);
  assert.equal(encoded[0]!.conditioning, encoded[2]!.conditioning);
  assert.deepEqual([...scheduledPromptSource(encoded)(4, 12).cond.data], new Array(4).fill(1.5));
});

test("the JSON file format: ranges, per-clip prompts, a bare array, and its errors", () => {
  assert.deepEqual(parsePromptSchedule({ negativePrompt: "w", ranges: [{ from: 0, to: 4, prompt: "a" }] }), { kind: "ranges", negativePrompt: "w", ranges: [{ from: 0, to: 4, prompt: "a" }] });
  assert.deepEqual(parsePromptSchedule([{ from: 0, to: 4, prompt: "a", negativePrompt: "n" }]), { kind: "ranges", ranges: [{ from: 0, to: 4, prompt: "a", negativePrompt: "n" }] });
  assert.deepEqual(parsePromptSchedule({ clips: ["a", { prompt: "b", negativePrompt: "n" }] }), { kind: "clips", clips: [{ prompt: "a" }, { prompt: "b", negativePrompt: "n" }] });
  const cases: [unknown, RegExp][] = [
    [{ ranges: [], clips: [] }, /s\.json: give exactly one of "ranges" and "clips"/],
    [{}, /give exactly one of "ranges" and "clips"/],
    [{ ranges: [] }, /s\.json: ranges is \[\]; allowed: a non-empty array/],
    [{ ranges: [{ from: 0, to: 4.5, prompt: "a" }] }, /s\.json: ranges\[0\]: to is 4\.5; allowed: an integer frame index/],
    [{ ranges: [{ from: 0, to: 4 }] }, /ranges\[0\]: prompt is undefined; allowed: a string/],
    [{ ranges: [{ from: 0, to: 4, prompt: "a", weight: 2 }] }, /ranges\[0\]: unknown field "weight"; allowed: from, to, prompt, negativePrompt/],
    [{ clips: ["a", 3] }, /clips\[1\] is 3; allowed: a string, or \{ "prompt": string/],
    [{ clips: ["a"], negativePrompt: 1 }, /negativePrompt is 1; allowed: a string/],
    [{ prompts: [] }, /unknown field "prompts"; allowed: negativePrompt, ranges, clips/],
    ["a cat", /expected an object with "ranges" or "clips"/],
  ];
  for (const [json, message] of cases) assert.throws(() => parsePromptSchedule(json, "s.json"), message);

  const dir = mkdtempSync(join(tmpdir(), "vidrd-schedule-"));
  try {
    const path = join(dir, "schedule.json");
    writeFileSync(path, JSON.stringify({ ranges: [{ from: 0, to: 8, prompt: "desert" }, { from: 8, to: 16, prompt: "snow" }] }));
    assert.deepEqual(promptRanges(readPromptSchedule(path), 16).map((r) => r.prompt), ["desert", "snow"]);
    writeFileSync(path, "{ ranges: ");
    assert.throws(() => readPromptSchedule(path), /schedule\.json: cannot read the prompt schedule/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
