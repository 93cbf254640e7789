import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { PthError, ZipArchive, crc32 } from "../../../src/io/pth/index.js";
import { tableCrc32 } from "../../../src/io/pth/zip-archive.js";
import { pthFixture } from "./fixtures.js";

test("crc32 (zlib's where Node has it, else a table loop) matches the standard check value", () => {
  for (const f of [crc32, tableCrc32]) {
    assert.equal(f(new TextEncoder().encode("123456789")), 0xcbf43926);
    assert.equal(f(new Uint8Array(0)), 0);
  }
  const bytes = Uint8Array.from({ length: 4099 }, (_, i) => (i * 31) & 0xff);
  assert.equal(crc32(bytes), tableCrc32(bytes));
});

test("torch's archive, a deflated re-pack and a zip64 re-pack list the same entries with the same content", () => {
  const read = (file: string) => {
    const zip = ZipArchive.open(pthFixture(file));
    try {
      return new Map(zip.entries().map((e) => [e.name, [...zip.read(e.name)]]));
    } finally {
      zip.close();
    }
  };
  const original = read("small.pth");
  assert.ok([...original.keys()].includes("small/data.pkl"));
  assert.deepEqual(read("small_deflated.pth"), original);
  assert.deepEqual(read("small_zip64.pth"), original);
  const deflated = ZipArchive.open(pthFixture("small_deflated.pth"));
  assert.ok(deflated.entries().some((e) => e.method === 8));
  deflated.close();
});

test("readRange reads part of a stored entry in place; ranges outside the entry are refused", () => {
  const zip = ZipArchive.open(pthFixture("small.pth"));
  try {
    const whole = zip.read("small/data/0");
    assert.deepEqual(zip.readRange("small/data/0", 4, 8), whole.slice(4, 12));
    assert.throws(() => zip.readRange("small/data/0", 4, whole.length), /outside zip entry/);
    assert.throws(() => zip.read("small/nope"), /no entry small\/nope/);
  } finally {
    zip.close();
  }
});

test("a damaged stored entry fails its CRC check when read whole", () => {
  const bytes = Uint8Array.from(readFileSync(pthFixture("small.pth")));
  const zip = ZipArchive.fromBytes(bytes, "x.zip");
  const entry = zip.get("small/data/0")!;
  // the data of this entry: right after its local header (30 bytes + name + extra)
  const view = new DataView(bytes.buffer);
  const dataStart = entry.localHeaderOffset + 30 + view.getUint16(entry.localHeaderOffset + 26, true) + view.getUint16(entry.localHeaderOffset + 28, true);
  bytes[dataStart] ^= 1;
  assert.throws(() => zip.read(entry.name), (e: unknown) => e instanceof PthError && /x\.zip: zip entry small\/data\/0 fails its CRC-32 check/.test(e.message));
});

test("archives cut short or with unsupported features are refused clearly", () => {
  const bytes = readFileSync(pthFixture("small.pth"));
  assert.throws(() => ZipArchive.fromBytes(bytes.subarray(0, bytes.length - 5), "cut.zip"), /cut\.zip: no zip end-of-central-directory record/);
  const encrypted = Uint8Array.from(bytes);
  const central = Buffer.from(encrypted).indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  encrypted[central + 8] |= 1;
  assert.throws(() => ZipArchive.fromBytes(encrypted, "enc.zip"), /encrypted; not supported/);
  const bzip = Uint8Array.from(bytes);
  bzip[central + 10] = 12;
  assert.throws(() => ZipArchive.fromBytes(bzip, "bz.zip"), /compression method 12/);
});
