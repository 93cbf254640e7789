import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CheckpointMismatchError,
  checkpointPath,
  latestValidCheckpoint,
  listCheckpoints,
  pruneCheckpoints,
  readCheckpoint,
  resolveTrainConfig,
  writeCheckpoint,
} from "../../src/train/index.js";
import { SeededNoise } from "../../src/tensor/seeded-noise.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { tempDir } from "./helpers.js";
import { toyConfig } from "./toy.js";

function writeScalars(dir: string, step: number, names: readonly string[]): string {
  const tensors = new Map(names.map((n, i) => [n, Tensor.float32([i], [])]));
  const meta = { step, seed: 7, noiseState: new SeededNoise(7).getState(), config: resolveTrainConfig(toyConfig(dir, 10, 5)), loss: null };
  return writeCheckpoint(dir, tensors, meta);
}

const noWarnings = (m: string): never => assert.fail(`unexpected warning: ${m}`);

test("readCheckpoint looks each expected tensor up once, not by scanning the list per tensor", (t) => {
  const dir = tempDir(t);
  const n = 300;
  const names = Array.from({ length: n }, (_, i) => `p.${i}`);
  const path = writeScalars(dir, 1, names);
  let reads = 0;
  const expected = new Proxy(names.map((name) => ({ name, shape: [] as number[] })), {
    get(target, key, receiver) {
      if (typeof key === "string" && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver);
    },
  });
  const c = readCheckpoint(path, expected);
  assert.equal(c.tensors.size, n);
  assert.equal((c.tensors.get("p.299")!.data as Float32Array)[0], 299);
  // a scan per name reads about n^2 / 2 = 45,000 entries
  assert.ok(reads <= 3 * n, `${reads} reads of ${n} expected entries`);
});

test("a file-system error while reading a checkpoint is rethrown; nothing is renamed", (t) => {
  const dir = tempDir(t);
  writeScalars(dir, 3, ["w"]);
  // a directory where a checkpoint should be: reading it fails with EISDIR (root can read any file, so
  // EACCES cannot be staged here; both come from the file system, not the file's bytes)
  mkdirSync(checkpointPath(dir, 6));
  const warnings: string[] = [];
  assert.throws(() => latestValidCheckpoint(dir, [{ name: "w", shape: [] }], (m) => void warnings.push(m)), /step-00000006\.safetensors: .*EISDIR/);
  assert.deepEqual(warnings, []);
  assert.ok(statSync(checkpointPath(dir, 6)).isDirectory());
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith(".corrupt")), []);
});

test("a mismatched checkpoint throws CheckpointMismatchError listing every difference; a damaged one is renamed", (t) => {
  const dir = tempDir(t);
  writeScalars(dir, 3, ["a", "b", "extra"]);
  const expected = [
    { name: "a", shape: [] },
    { name: "b", shape: [2] },
    { name: "gone", shape: [] },
  ];
  assert.throws(() => latestValidCheckpoint(dir, expected, noWarnings), (e: unknown) => {
    assert.ok(e instanceof CheckpointMismatchError, String(e));
    assert.deepEqual(e.differences, [
      "missing gone (1 tensor(s) this run carries)",
      "holds extra (1 tensor(s) this run does not carry)",
      "b is F32[], this run carries F32[2]",
    ]);
    assert.equal(e.stored?.step, 3);
    return true;
  });
  assert.ok(existsSync(checkpointPath(dir, 3)));
  // garbage bytes are damage
  writeFileSync(checkpointPath(dir, 6), "not a safetensors file");
  const warnings: string[] = [];
  const c = latestValidCheckpoint(dir, [{ name: "a", shape: [] }, { name: "b", shape: [] }, { name: "extra", shape: [] }], (m) => void warnings.push(m));
  assert.equal(c?.step, 3);
  assert.match(warnings[0]!, /skipping checkpoint .*step-00000006\.safetensors \(renamed to step-00000006\.safetensors\.corrupt\)/);
});

test("a damaged checkpoint that cannot be renamed gives an error naming the file and what to do", (t) => {
  const dir = tempDir(t);
  writeFileSync(checkpointPath(dir, 6), "not a safetensors file");
  // a non-empty directory in the way of the rename
  mkdirSync(join(`${checkpointPath(dir, 6)}.corrupt`, "x"), { recursive: true });
  const warnings: string[] = [];
  assert.throws(
    () => latestValidCheckpoint(dir, [{ name: "w", shape: [] }], (m) => void warnings.push(m)),
    /checkpoint .*step-00000006\.safetensors is damaged \(.*\) but renaming it to step-00000006\.safetensors\.corrupt failed: .*; move or delete it, then resume/,
  );
  // no warning claims it was renamed
  assert.deepEqual(warnings, []);
});

test("pruning keeps the newest `keep` checkpoints and drops .corrupt files once `keep` newer checkpoints exist", (t) => {
  const dir = tempDir(t);
  const touch = (name: string) => writeFileSync(join(dir, name), "");
  for (const step of [3, 6, 8]) touch(`step-0000000${step}.safetensors`);
  touch("step-00000006.safetensors.corrupt");
  pruneCheckpoints(dir, 2);
  assert.deepEqual(readdirSync(dir).sort(), ["step-00000006.safetensors", "step-00000006.safetensors.corrupt", "step-00000008.safetensors"]);
  touch("step-00000009.safetensors");
  pruneCheckpoints(dir, 2);
  assert.deepEqual(readdirSync(dir).sort(), ["step-00000008.safetensors", "step-00000009.safetensors"]);
  assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [8, 9]);
});
