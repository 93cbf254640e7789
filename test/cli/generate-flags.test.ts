// The flags and --config of generate / extend, in process: every schema field is a flag, numbers parse
// or reach the schema's message untouched, config files merge under the flags.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { OptionsError, flagName, generateSchema, resolveExtendSettings } from "../../src/app/index.js";
import { EXTEND_USAGE } from "../../src/cli/extend.js";
import { GENERATE_USAGE } from "../../src/cli/generate.js";
import { UsageError } from "../../src/cli/command.js";
import { EXTEND_FIELDS, GENERATE_FIELDS, fieldKind, parseCommandLine, readConfigFile, resolveCommandSettings } from "../../src/cli/generate-flags.js";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "vidrd-cli-flags-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const settingsOf = (argv: string[], fields = GENERATE_FIELDS) => {
  const parsed = parseCommandLine(argv, fields);
  return resolveCommandSettings(parsed, parsed.positionals[0], fields);
};

function config(name: string, json: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(json));
  return path;
}

test("every generate option is a flag of its kind; extend leaves out the other strategies' options", () => {
  assert.deepEqual([...GENERATE_FIELDS].sort(), Object.keys(generateSchema.shape).filter((f) => f !== "prompt").sort());
  const numbers = GENERATE_FIELDS.filter((f) => fieldKind(f) === "number");
  assert.deepEqual(numbers, ["frames", "clips", "steps", "guidance", "guidanceRescale", "seed", "overlap", "noiseRecycle", "stagedGuidance", "stride", "partitions", "fps", "threads"]);
  assert.deepEqual(GENERATE_FIELDS.filter((f) => fieldKind(f) === "boolean"), ["lookahead", "json"]);
  assert.deepEqual(GENERATE_FIELDS.filter((f) => !EXTEND_FIELDS.includes(f)), ["stride", "partitions", "lookahead"]);
  const s = settingsOf(["p", "--guidance-rescale", "0.5", "--noise-recycle", "2", "--staged-guidance", "0.25", "--prompt-schedule", "s.json", "--json"]);
  assert.deepEqual([s.guidanceRescale, s.noiseRecycle, s.stagedGuidance, s.promptSchedule, s.json], [0.5, 2, 0.25, "s.json", true]);
  assert.equal(settingsOf(["p", "--strategy", "fifo", "--no-lookahead"]).lookahead, false);
  assert.equal(settingsOf(["p", "--strategy", "fifo", "--lookahead"]).lookahead, true);
  assert.throws(() => settingsOf(["p", "--lookahead", "--no-lookahead"]), UsageError);
});

test("each command's help names every flag it takes", () => {
  for (const [usage, fields] of [[GENERATE_USAGE, GENERATE_FIELDS], [EXTEND_USAGE, EXTEND_FIELDS]] as const) {
    for (const field of fields) assert.ok(usage.includes(flagName(field)), `${flagName(field)} is missing from\n${usage}`);
  }
});

test("number flags: any number in range parses, as --flag N, --flag=N, and negative ones after a space", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0, max: 100, noNaN: true }), (steps, guidance) => {
      const s = settingsOf(["p", "--steps", String(steps), `--guidance=${guidance}`]);
      assert.equal(s.steps, steps);
      assert.equal(s.guidance, guidance);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: -1e6, max: 0 }), (frames) => {
      assert.throws(() => settingsOf(["p", "--frames", String(frames)]), new OptionsError(`--frames is ${frames}; allowed: an integer >= 1`));
    }),
  );
});

test("text that is not a number reaches the schema and is named with what the flag allows", () => {
  fc.assert(
    fc.property(
      fc.string().filter((t) => t.trim() === "" || !Number.isFinite(Number(t))),
      (text) => {
        assert.throws(() => settingsOf(["p", `--guidance=${text}`]), new OptionsError(`--guidance is ${JSON.stringify(text)}; allowed: a number in [0, 100]`));
      },
    ),
  );
});

test("a config file: camelCase fields, paths relative to its folder, flags win, --frames/--clips replace each other", () => {
  const path = config("c.json", { prompt: "from file", steps: 7, out: "o.webm", model: "/abs/model", promptSchedule: "s.json", clips: 3 });
  assert.deepEqual(readConfigFile(path, GENERATE_FIELDS), { prompt: "from file", steps: 7, out: join(dir, "o.webm"), model: "/abs/model", promptSchedule: join(dir, "s.json"), clips: 3 });
  const fileOnly = settingsOf(["--config", path]);
  assert.deepEqual([fileOnly.prompt, fileOnly.steps, fileOnly.clips, fileOnly.frames], ["from file", 7, 3, undefined]);
  const flagged = settingsOf(["from flag", "--config", path, "--steps", "9", "--frames", "6"]);
  assert.deepEqual([flagged.prompt, flagged.steps, flagged.clips, flagged.frames], ["from flag", 9, undefined, 6]);
  // a flag's bad value is a flag's; the file's bad value is the file's
  assert.throws(() => settingsOf(["--config", path, "--steps", "0"]), /^OptionsError: --steps is 0;/);
  const bad = config("bad.json", { prompt: "x", seed: -1 });
  assert.throws(() => settingsOf(["--config", bad]), new OptionsError(`--config ${bad}: "seed" is -1; allowed: an integer in [0, 4294967295]`));
  // ... unless a flag replaces it
  assert.equal(settingsOf(["--config", bad, "--seed", "3"]).seed, 3);
});

test("a config file that is not an object of known fields is refused by name", () => {
  assert.throws(() => readConfigFile(config("arr.json", [1]), GENERATE_FIELDS), /holds an array; allowed: a JSON object of options/);
  assert.throws(() => readConfigFile(config("kebab.json", { "guidance-rescale": 0.5 }), GENERATE_FIELDS), /"guidance-rescale" is not an option here; write "guidanceRescale"/);
  assert.throws(() => readConfigFile(config("unknown.json", { colour: "red" }), GENERATE_FIELDS), /"colour" is not an option here; allowed: prompt, negative, frames/);
  assert.throws(() => readConfigFile(config("stride.json", { stride: 2 }), EXTEND_FIELDS), /"stride" is not an option here/);
  assert.throws(() => settingsOf([]), new UsageError(`needs "<prompt>" (in quotes), or "prompt" in the --config file`));
});

test("extend's settings: the strategy is checked before the vidrd options that come with it", () => {
  const parsed = parseCommandLine(["v.mp4", "p", "--strategy", "fifo", "--overlap", "2"], EXTEND_FIELDS);
  assert.throws(() => resolveCommandSettings(parsed, "p", EXTEND_FIELDS, resolveExtendSettings), /^OptionsError: --strategy is "fifo"; allowed: vidrd/);
  const file = config("extend.json", { strategy: "freenoise" });
  const fromFile = parseCommandLine(["v.mp4", "p", "--config", file], EXTEND_FIELDS);
  assert.throws(() => resolveCommandSettings(fromFile, "p", EXTEND_FIELDS, resolveExtendSettings), new OptionsError(`--config ${file}: "strategy" is "freenoise"; allowed: vidrd (extend continues a video from vidrd's inverted history)`));
});
