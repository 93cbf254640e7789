import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsError, SafetensorsFile } from "../../src/io/index.js";
import { withTempDir } from "./helpers.js";

/** A file with the given header text (padded to 8 bytes) and `dataLength` bytes of data 0, 1, 2, ... */
function fileBytes(header: string | object, dataLength: number): Uint8Array {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  const json = Buffer.from(text, "utf8");
  const padded = Math.ceil(json.length / 8) * 8;
  const out = Buffer.alloc(8 + padded + dataLength, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, 8);
  for (let i = 0; i < dataLength; i++) out[8 + padded + i] = i & 0xff;
  return out;
}

function rejects(bytes: Uint8Array, message: RegExp): void {
  assert.throws(
    () => SafetensorsFile.fromBytes(bytes, "bad.safetensors"),
    (e: unknown) => {
      assert.ok(e instanceof SafetensorsError, `not a SafetensorsError: ${String(e)}`);
      assert.match(e.message, /^bad\.safetensors: /);
      assert.match(e.message, message);
      return true;
    },
  );
}

const f32 = (shape: number[], offsets: unknown[]) => ({ dtype: "F32", shape, data_offsets: offsets });

test("rejects a file too short for the length prefix", () => {
  rejects(new Uint8Array(5), /5 bytes is shorter than the 8-byte header length prefix/);
  rejects(new Uint8Array(0), /0 bytes/);
});

test("rejects header lengths past the file or past 100 MB without allocating them", () => {
  const bytes = Buffer.alloc(24);
  bytes.writeBigUInt64LE(100n, 0);
  rejects(bytes, /header length 100 runs past the end of the 24-byte file/);
  bytes.writeBigUInt64LE(2n ** 40n, 0);
  rejects(bytes, /header length 1099511627776 exceeds the 100000000-byte limit/);
  bytes.writeBigUInt64LE(2n ** 64n - 1n, 0);
  rejects(bytes, /exceeds the 100000000-byte limit/);
});

test("rejects headers that are not UTF-8, not JSON, or not an object", () => {
  const bad = Buffer.from(fileBytes("{}", 0));
  bad[9] = 0xff;
  rejects(bad, /header is not valid UTF-8/);
  rejects(fileBytes('{"a":', 0), /header is not valid JSON/);
  rejects(fileBytes("[1, 2]", 0), /header must start with "\{"/);
  rejects(fileBytes(" {}", 0), /must start with "\{"/);
});

test("rejects tensor entries with missing or mistyped fields, naming the tensor", () => {
  rejects(fileBytes({ w: 3 }, 0), /tensor "w": entry must be an object with dtype, shape and data_offsets, got 3/);
  rejects(fileBytes({ w: { shape: [1], data_offsets: [0, 4] } }, 4), /tensor "w": missing "dtype"/);
  rejects(fileBytes({ w: { dtype: "F32", data_offsets: [0, 4] } }, 4), /tensor "w": missing "shape"/);
  rejects(fileBytes({ w: { dtype: "F32", shape: [1] } }, 4), /tensor "w": missing "data_offsets"/);
  rejects(fileBytes({ w: { dtype: 5, shape: [1], data_offsets: [0, 4] } }, 4), /dtype must be a string, got 5/);
  rejects(fileBytes({ w: { dtype: "F32", shape: "1", data_offsets: [0, 4] } }, 4), /shape must be an array of integers, got "1"/);
  rejects(fileBytes({ w: f32([1], [0]) }, 4), /data_offsets must be \[begin, end\], got an array of 1 items/);
  rejects(fileBytes({ w: f32([1], [0, "4"]) }, 4), /data_offsets end is "4"/);
});

test("rejects unknown dtypes, listing the allowed ones", () => {
  rejects(
    fileBytes({ w: { dtype: "F128", shape: [1], data_offsets: [0, 16] } }, 16),
    /tensor "w": unknown dtype "F128"; allowed: BOOL, U8, .*F16, BF16, I32, .*F32, .*I64/,
  );
});

test("rejects negative or fractional dimensions and offsets", () => {
  rejects(fileBytes({ w: f32([-1], [0, 4]) }, 4), /tensor "w": shape dimension 0 is -1; dimensions must be non-negative integers/);
  rejects(fileBytes({ w: f32([2, 1.5], [0, 12]) }, 12), /shape dimension 1 is 1.5/);
  rejects(fileBytes({ w: f32([1], [-4, 0]) }, 4), /data_offsets begin is -4; offsets must be non-negative integers/);
  rejects(fileBytes({ w: f32([1], [0, 4.5]) }, 4), /data_offsets end is 4.5/);
  rejects(fileBytes({ w: f32([1], [8, 4]) }, 8), /data_offsets \[8, 4\] has begin after end/);
  rejects(fileBytes({ w: f32([1], [0, 2 ** 60]) }, 4), /data_offsets end is 1152921504606847000, beyond 2\^53 - 1/);
});

test("rejects a byte length that does not match shape and dtype", () => {
  rejects(fileBytes({ w: f32([2], [0, 4]) }, 4), /tensor "w": F32\[2\] needs 8 bytes but data_offsets \[0, 4\] hold 4/);
  rejects(fileBytes({ w: f32([2 ** 26, 2 ** 26, 2 ** 26], [0, 4]) }, 4), /needs more than 2\^53 bytes/);
});

test("rejects tensors outside the data buffer, overlapping, or leaving bytes uncovered", () => {
  rejects(fileBytes({ w: f32([2], [0, 8]) }, 4), /tensor "w": data_offsets \[0, 8\] run past the 4-byte data buffer/);
  rejects(fileBytes({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, 12), /tensor "b": data_offsets \[4, 12\] overlap tensor "a", which ends at 8/);
  rejects(fileBytes({ a: f32([1], [0, 4]), b: f32([1], [8, 12]) }, 12), /tensor "b": data buffer bytes \[4, 8\) before it belong to no tensor/);
  rejects(fileBytes({ a: f32([1], [0, 4]) }, 8), /data buffer has 8 bytes but tensors cover only \[0, 4\)/);
  rejects(fileBytes({}, 1), /data buffer has 1 bytes but tensors cover only \[0, 0\)/);
});

test("rejects __metadata__ that is not a map of strings", () => {
  rejects(fileBytes({ __metadata__: { epoch: 3 } }, 0), /__metadata__ value of "epoch" must be a string, got 3/);
  rejects(fileBytes({ __metadata__: ["a"] }, 0), /__metadata__ must be an object of string values, got an array of 1 items/);
  assert.deepEqual({ ...SafetensorsFile.fromBytes(fileBytes({ __metadata__: null }, 0)).metadata }, {});
});

test("accepts any order of entries and empty tensors sharing an offset", () => {
  const file = SafetensorsFile.fromBytes(
    fileBytes({ z: f32([1], [4, 8]), e: f32([0], [4, 4]), a: f32([1], [0, 4]), e2: { dtype: "I64", shape: [3, 0], data_offsets: [8, 8] } }, 8),
  );
  assert.deepEqual(file.names(), ["a", "e", "z", "e2"]);
  // Data bytes 4..7 are 4, 5, 6, 7.
  assert.deepEqual([...file.readRaw("z")], [4, 5, 6, 7]);
});

test("errors from open() name the path; a missing file is a SafetensorsError too", () => {
  withTempDir((dir) => {
    const path = join(dir, "broken.safetensors");
    writeFileSync(path, fileBytes({ w: f32([2], [0, 4]) }, 4));
    assert.throws(() => SafetensorsFile.open(path), (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(`${path}: tensor "w"`));
    assert.throws(() => SafetensorsFile.open(join(dir, "missing.safetensors")), (e: unknown) => e instanceof SafetensorsError && /cannot open/.test(e.message));
  });
});

test("open() reads only the header: one small tensor at a 3 GB offset of a sparse file", () => {
  withTempDir((dir) => {
    const path = join(dir, "sparse.safetensors");
    const big = 3 * 2 ** 30;
    const header = { big: { dtype: "U8", shape: [big], data_offsets: [0, big] }, tail: f32([2, 2], [big, big + 16]) };
    const head = fileBytes(header, 0);
    writeFileSync(path, head);
    truncateSync(path, head.length + big + 16); // sparse: costs no disk
    const fd = openSync(path, "r+");
    writeSync(fd, new Uint8Array(Float32Array.from([1.5, -2, 3.25, 1e-3]).buffer), 0, 16, head.length + big);
    closeSync(fd);

    const before = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    const file = SafetensorsFile.open(path);
    try {
      assert.deepEqual(file.info("big").byteLength, big);
      const tail = file.read("tail");
      assert.deepEqual(tail.shape, [2, 2]);
      assert.deepEqual([...tail.data], [1.5, -2, 3.25, Math.fround(1e-3)]);
    } finally {
      file.close();
    }
    // Reading the 3 GB would take seconds and gigabytes; the header and one tensor take neither.
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20);
    assert.ok(performance.now() - started < 1000);
  });
});

test("a file truncated after open() fails the read with a SafetensorsError, not a hang", () => {
  withTempDir((dir) => {
    const path = join(dir, "shrinking.safetensors");
    const bytes = fileBytes({ w: f32([4], [0, 16]) }, 16);
    writeFileSync(path, bytes);
    const file = SafetensorsFile.open(path);
    truncateSync(path, bytes.length - 8);
    assert.throws(() => file.read("w"), (e: unknown) => e instanceof SafetensorsError && /ends at byte \d+ while reading tensor "w"; was it truncated/.test(e.message));
    file.close();
    file.close();
  });
});
