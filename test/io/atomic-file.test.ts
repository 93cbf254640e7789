import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Tensor } from "../../src/tensor/tensor.js";
import { SafetensorsError, readSafetensors, writeFileAtomic, writeSafetensors } from "../../src/io/index.js";
import { writeAll } from "../../src/io/atomic-file.js";
import { withTempDir } from "./helpers.js";


test("writeSafetensors replaces a file and leaves no temporary files behind", () => {
  withTempDir((dir) => {
    const path = join(dir, "model.safetensors");
    writeSafetensors(path, { w: Tensor.float32([1, 2]) });
    writeSafetensors(path, { w: Tensor.float32([3, 4, 5]) });
    assert.deepEqual(readdirSync(dir), ["model.safetensors"]);
    assert.deepEqual([...readSafetensors(path).get("w")!.data], [3, 4, 5]);
  });
});

test("a write that fails half way leaves the old file intact and no temporary file", () => {
  withTempDir((dir) => {
    const path = join(dir, "weights.bin");
    writeFileSync(path, "old content");
    assert.throws(
      () =>
        writeFileAtomic(path, (fd) => {
          writeAll(fd, new TextEncoder().encode("new content, first half"));
          throw new Error("disk full (simulated)");
        }),
      /disk full \(simulated\)/,
    );
    assert.equal(readFileSync(path, "utf8"), "old content");
    assert.deepEqual(readdirSync(dir), ["weights.bin"]);
  });
});

test("writeSafetensors that cannot rename over its target cleans up and throws SafetensorsError", () => {
  withTempDir((dir) => {
    const path = join(dir, "taken.safetensors");
    mkdirSync(path);
    writeFileSync(join(path, "keep"), "x");
    assert.throws(
      () => writeSafetensors(path, { w: Tensor.float32([1]) }),
      (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(`${path}: write failed`),
    );
    assert.deepEqual(readdirSync(dir), ["taken.safetensors"]);
    assert.deepEqual(readdirSync(path), ["keep"]);
  });
});

test("invalid input is refused before the old file is touched", () => {
  withTempDir((dir) => {
    const path = join(dir, "model.safetensors");
    writeSafetensors(path, { w: Tensor.float32([1, 2]) });
    const before = readFileSync(path);
    assert.throws(() => writeSafetensors(path, { w: Tensor.float32([9]) }, { epoch: 1 as unknown as string }), SafetensorsError);
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(readdirSync(dir), ["model.safetensors"]);
  });
});

test("a missing directory is a SafetensorsError naming the path", () => {
  withTempDir((dir) => {
    const path = join(dir, "no", "such", "dir.safetensors");
    assert.throws(() => writeSafetensors(path, {}), (e: unknown) => e instanceof SafetensorsError && e.message.includes(path));
  });
});
