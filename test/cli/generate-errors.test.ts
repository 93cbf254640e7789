// Every bad value `vidrd generate` can be given: a non-zero exit, exactly one line on stderr that names
// the flag (or file) and what is allowed, no stack trace, and no output (or temporary) left behind.

import assert from "node:assert/strict";
import { chmodSync, cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { hiddenFiles, lines, tinyFlags, unprivilegedUser, vidrd, workspace, type Workspace } from "./cli-harness.js";

let ws: Workspace;
let outDir: string;
before(() => {
  ws = workspace("errors");
  outDir = join(ws.dir, "out");
  mkdirSync(outDir);
  const corrupt = join(ws.dir, "corrupt-model");
  cpSync(ws.model, corrupt, { recursive: true });
  writeFileSync(join(corrupt, "unet", "config.json"), "{ this is not json");
  writeFileSync(join(ws.dir, "bad-guidance.json"), JSON.stringify({ guidance: 500 }));
  writeFileSync(join(ws.dir, "kebab.json"), JSON.stringify({ "noise-recycle": 2 }));
  writeFileSync(join(ws.dir, "not-json.json"), "steps: 3");
  writeFileSync(join(ws.dir, "a-file"), "");
});
after(() => ws.remove());

interface BadCase {
  name: string;
  args: string[];
  /** Exit code: 2 for what was typed, 1 for what was found (model folder, ffmpeg). */
  status: number;
  message: RegExp;
  env?: NodeJS.ProcessEnv;
  /** Where the output would have gone (default out/video.mp4). */
  out?: string;
}

const cases = (): BadCase[] => [
  { name: "negative frames", args: ["--frames", "-3"], status: 2, message: /^vidrd generate: --frames is -3; allowed: an integer >= 1$/ },
  { name: "frames that are not a number", args: ["--frames=many"], status: 2, message: /^vidrd generate: --frames is "many"; allowed: an integer >= 1$/ },
  { name: "frames no clip count reaches", args: ["--frames", "7"], status: 2, message: /^vidrd generate: --frames is 7; allowed with these settings: 4 \+ k \* 2/ },
  { name: "unknown strategy", args: ["--strategy", "diffuse-harder"], status: 2, message: /^vidrd generate: --strategy is "diffuse-harder"; allowed: vidrd, independent, gen-l-video, freenoise, fifo$/ },
  { name: "overlap not below the clip length", args: ["--overlap", "4"], status: 2, message: /^vidrd generate: --overlap is 4; allowed: an integer in \[0, 3\]/ },
  { name: "an option of another strategy", args: ["--no-lookahead"], status: 2, message: /^vidrd generate: --lookahead applies to --strategy fifo, not vidrd$/ },
  { name: "both --frames and --clips", args: ["--frames", "4", "--clips", "2"], status: 2, message: /--frames and --clips were both given; allowed: one of them$/ },
  { name: "a size the model cannot take", args: ["--size", "10"], status: 2, message: /^vidrd generate: --size is 10; allowed: width and height positive multiples of 4/ },
  { name: "an unknown flag", args: ["--frobs", "3"], status: 2, message: /^vidrd generate: Unknown option '--frobs'.*; see vidrd generate --help$/ },
  { name: "an output format vidrd cannot write", args: [], out: "clip.avi", status: 2, message: /^vidrd generate: --out is ".*clip\.avi"; allowed: a file path ending in \.mp4, \.webm, \.gif or \.png \(contact sheet\), or a folder path ending in "\/" \(PNG frames\)$/ },
  { name: "an output folder that does not exist", args: [], out: join("no", "such", "folder", "v.mp4"), status: 2, message: /^vidrd generate: --out .*v\.mp4: folder .* does not exist; allowed: a path in an existing, writable folder$/ },
  { name: "an output 'folder' that is a file", args: [], out: join("..", "a-file", "v.mp4"), status: 2, message: /^vidrd generate: --out .*v\.mp4: .*a-file is not a folder$/ },
  { name: "a missing model folder", args: ["--model", join("/nonexistent", "model")], status: 1, message: /^vidrd generate: --model \/nonexistent\/model: not a folder; a model folder holds unet\/, vae\/, text_encoder\/, tokenizer\//, },
  { name: "a corrupt model folder", args: ["--model", "CORRUPT"], status: 1, message: /^vidrd generate: --model .*corrupt-model: unet\/config\.json: .*not readable JSON/ },
  { name: "missing ffmpeg", args: [], env: { VIDRD_FFMPEG: "/nonexistent/ffmpeg" }, status: 1, message: /^vidrd generate: ffmpeg not found: VIDRD_FFMPEG=\/nonexistent\/ffmpeg is not an executable file; install it with `apt-get install ffmpeg`/ },
  { name: "a bad value in the config file", args: ["--config", "CONFIG/bad-guidance.json"], status: 2, message: /^vidrd generate: --config .*bad-guidance\.json: "guidance" is 500; allowed: a number in \[0, 100\]$/ },
  { name: "a kebab-case key in the config file", args: ["--config", "CONFIG/kebab.json"], status: 2, message: /^vidrd generate: --config .*kebab\.json: "noise-recycle" is not an option here; write "noiseRecycle"/ },
  { name: "a config file that is not JSON", args: ["--config", "CONFIG/not-json.json"], status: 2, message: /^vidrd generate: --config .*not-json\.json: not valid JSON/ },
  { name: "a missing config file", args: ["--config", "CONFIG/none.json"], status: 2, message: /^vidrd generate: --config .*none\.json: no such file; allowed: a JSON file of options$/ },
];

test("every bad value: non-zero exit, one stderr line naming the flag and what is allowed, no file left", () => {
  for (const c of cases()) {
    const out = join(outDir, c.out ?? "video.mp4");
    const args = [...tinyFlags(ws), ...c.args].map((a) => a.replace("CORRUPT", join(ws.dir, "corrupt-model")).replace("CONFIG", ws.dir));
    // the case's own --model and --overlap come after tinyFlags' and win (parseArgs keeps the last)
    const r = vidrd(["generate", "a red star", ...args, "--out", out], { ...ws.env, ...c.env });
    assert.equal(r.status, c.status, `${c.name}: exit ${r.status}\n${r.stderr}`);
    const stderr = lines(r.stderr);
    assert.equal(stderr.length, 1, `${c.name}: ${r.stderr}`);
    assert.match(stderr[0]!, c.message, c.name);
    assert.doesNotMatch(r.stderr, /\bat .*:\d+:\d+/, `${c.name}: a stack trace`);
    assert.equal(r.stdout, "", c.name);
    assert.equal(existsSync(out), false, `${c.name}: ${out} was left`);
    assert.deepEqual(hiddenFiles(outDir), [], `${c.name}: a temporary was left`);
  }
});

// As root the command runs as user nobody, for whom the folder is read-only as for anyone else.
const asRoot = process.getuid?.() === 0;
const runAs = asRoot ? unprivilegedUser() : undefined;

test("an output folder without write permission", { skip: runAs === null ? "running as root, and user nobody cannot run this checkout" : false }, () => {
  const locked = join(ws.dir, "locked");
  mkdirSync(locked);
  chmodSync(locked, 0o555);
  chmodSync(ws.dir, 0o755); // mkdtemp makes it 0700: nobody must be able to reach "locked"
  try {
    const r = vidrd(["generate", "x", ...tinyFlags(ws), "--out", join(locked, "v.mp4")], ws.env, runAs ?? undefined);
    assert.equal(r.status, 2, r.stderr);
    assert.deepEqual(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /--out .*v\.mp4: folder .*locked is not writable/);
    assert.equal(existsSync(join(locked, "v.mp4")), false);
  } finally {
    chmodSync(locked, 0o755);
  }
});

test("a missing prompt or a prompt in several words is a usage error pointing to --help", () => {
  const none = vidrd(["generate", ...tinyFlags(ws)], ws.env);
  assert.equal(none.status, 2);
  assert.deepEqual(lines(none.stderr), ['vidrd generate: needs "<prompt>" (in quotes), or "prompt" in the --config file; see vidrd generate --help']);
  const split = vidrd(["generate", "a", "red", "star", ...tinyFlags(ws)], ws.env);
  assert.equal(split.status, 2);
  assert.match(split.stderr, /^vidrd generate: takes one "<prompt>", got 3 arguments \(put the prompt in quotes\); see vidrd generate --help\n$/);
});

test("no --model and no embedded model: one line saying to pass --model", () => {
  const out = join(outDir, "embedded.mp4");
  const r = vidrd(["generate", "x", "--out", out], { ...ws.env, VIDRD_EMBEDDED_MODEL: join(ws.dir, "no-embedded-model") });
  assert.equal(r.status, 2, r.stderr);
  assert.deepEqual(lines(r.stderr), [
    "vidrd generate: --model was not given and this build has no embedded model (assets/model); allowed: --model <folder> (see vidrd convert)",
  ]);
  assert.equal(existsSync(out), false);
});
