// The corruption property of safetensors-fuzz.test.ts. It runs as a child process so that the test can
// kill it after a deadline: a parser stuck in a synchronous loop would otherwise block the test
// runner's own timeout too. Usage: node --import tsx safetensors-fuzz.property.ts <numRuns>
// Prints one JSON line {slowest, parsed, rejected} on success; fails with fast-check's report.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { DTYPES, Tensor } from "../../src/tensor/tensor.js";
import { SafetensorsError, SafetensorsFile, encodeSafetensors } from "../../src/io/index.js";

const numRuns = Number(process.argv[2] ?? 100);

const headerLengthOf = (bytes: Uint8Array) =>
  bytes.length < 8 ? 0 : Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));

type Outcome = { ok: true; names: string[] } | { ok: false; message: string };

const ITEM_BYTES: Record<string, number> = { F64: 8, I64: 8, U64: 8, F32: 4, I32: 4, U32: 4, F16: 2, BF16: 2, I16: 2, U16: 2 };

/**
 * Parses and reads every tensor; anything but success or a SafetensorsError fails the property, and
 * so does accepting a file whose tensors do not tile the data buffer exactly (checked here directly).
 */
function outcomeOf(open: () => SafetensorsFile, label: string, bytes: Uint8Array): Outcome {
  let file: SafetensorsFile | null = null;
  try {
    file = open();
    const names = file.names();
    let covered = 0;
    for (const name of names) {
      const info = file.info(name);
      assert.equal(info.dataOffsets[0], covered, `tensor ${name} does not start where the previous one ended`);
      covered = info.dataOffsets[1];
      assert.equal(info.byteLength, info.shape.reduce((a, b) => a * b, 1) * (ITEM_BYTES[info.dtype] ?? 1));
      assert.equal(file.readRaw(name).length, info.byteLength);
      if (info.tensorDType !== null) assert.deepEqual(file.read(name).shape, info.shape);
    }
    assert.equal(8 + headerLengthOf(bytes) + covered, bytes.length, "accepted a file whose data buffer is not exactly covered");
    return { ok: true, names };
  } catch (e) {
    if (e instanceof SafetensorsError) {
      assert.ok(e.message.startsWith(`${label}: `), `error does not name the file: ${e.message}`);
      return { ok: false, message: e.message.slice(label.length) };
    }
    throw e;
  } finally {
    file?.close();
  }
}

/** A valid file: the bytes plus its header as an object, for mutations to work on. */
const validFile = fc
  .record({
    tensors: fc.dictionary(
      fc.string({ maxLength: 6 }).filter((n) => n !== "__metadata__"),
      fc.tuple(fc.constantFrom(...DTYPES), fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 })),
      { minKeys: 1, maxKeys: 5 },
    ),
    metadata: fc.option(fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }), { nil: undefined }),
    float32As: fc.constantFrom("F32", "F16", "BF16") as fc.Arbitrary<"F32" | "F16" | "BF16">,
  })
  .map(({ tensors, metadata, float32As }) => {
    const built = new Map<string, Tensor>();
    for (const [name, [dtype, shape]] of Object.entries(tensors)) built.set(name, Tensor.zeros(dtype, shape));
    return encodeSafetensors(built, metadata, { float32As });
  });

const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.integer({ min: -10, max: 200 }),
  fc.double(),
  fc.constantFrom(-1, -0, 0.5, 2 ** 31, 2 ** 53, 2 ** 60, 1e308, "", null, [], {}),
  fc.array(fc.integer({ min: -3, max: 48 }), { maxLength: 4 }),
  fc.constantFrom("F32", "F16", "BF16", "I64", "I32", "U8", "BOOL", "F64", "f32", "X"),
);

type Mutation = (bytes: Uint8Array) => Uint8Array;


/** Rewrites the header through `edit` (on the parsed object) and keeps the data buffer as it was. */
function editHeader(edit: (header: Record<string, unknown>, names: string[]) => unknown, pad: boolean): Mutation {
  return (bytes) => {
    const n = headerLengthOf(bytes);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString("utf8")) as Record<string, unknown>;
      if (typeof header !== "object" || header === null || Array.isArray(header)) return bytes;
    } catch {
      return bytes; // An earlier mutation already broke the header; nothing left to edit.
    }
    const edited = edit(header, Object.keys(header).filter((k) => k !== "__metadata__"));
    let text = Buffer.from(JSON.stringify(edited === undefined ? header : edited) ?? "undefined", "utf8");
    if (pad) text = Buffer.concat([text, Buffer.alloc((8 - (text.length % 8)) % 8, 0x20)]);
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(text.length));
    return Buffer.concat([prefix, text, bytes.subarray(8 + n)]);
  };
}

const pick = <T>(items: readonly T[], i: number): T | undefined => (items.length === 0 ? undefined : items[i % items.length]);
const entry = (header: Record<string, unknown>, name: string | undefined) =>
  name !== undefined && typeof header[name] === "object" && header[name] !== null ? (header[name] as Record<string, unknown>) : undefined;

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // Random byte flips anywhere in the length prefix and header.
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }).map(
    (flips): Mutation => (bytes) => {
      const out = Uint8Array.from(bytes);
      const headerEnd = Math.min(out.length, 8 + (out.length >= 8 ? headerLengthOf(bytes) : 0));
      if (headerEnd > 0) for (const [pos, value] of flips) out[pos % headerEnd] = value;
      return out;
    },
  ),
  fc.nat().map((cut): Mutation => (bytes) => bytes.subarray(0, cut % (bytes.length + 1))),
  fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: -16, max: 16 }).map(BigInt)).map(
    (value): Mutation => (bytes) => {
      if (bytes.length < 8) return bytes;
      const out = Buffer.from(bytes);
      // Small values are offsets from the true length, so the prefix lands near the real header end.
      const n = value >= -16n && value <= 16n ? BigInt(headerLengthOf(bytes)) + value : value;
      out.writeBigUInt64LE(n < 0n ? 0n : n, 0);
      return out;
    },
  ),
  fc.uint8Array({ minLength: 1, maxLength: 9 }).map((extra): Mutation => (bytes) => Buffer.concat([bytes, extra])),
  fc.tuple(fc.nat(), fc.constantFrom("dtype", "shape", "data_offsets", "extra"), jsonish, fc.boolean()).map(([i, field, value, pad]) =>
    editHeader((h, names) => void (entry(h, pick(names, i)) && (entry(h, pick(names, i))![field] = value)), pad),
  ),
  fc.tuple(fc.nat(), fc.constantFrom("dtype", "shape", "data_offsets"), fc.boolean()).map(([i, field, pad]) =>
    editHeader((h, names) => void (entry(h, pick(names, i)) && delete entry(h, pick(names, i))![field]), pad),
  ),
  fc.tuple(fc.nat(), fc.nat(), fc.oneof(fc.integer({ min: -5, max: 64 }), fc.double()), fc.boolean()).map(([i, dim, value, pad]) =>
    editHeader((h, names) => {
      const shape = entry(h, pick(names, i))?.shape;
      if (Array.isArray(shape) && shape.length > 0) shape[dim % shape.length] = value;
    }, pad),
  ),
  fc.tuple(fc.nat(), fc.integer({ min: -8, max: 300 }), fc.integer({ min: -8, max: 300 }), fc.boolean()).map(([i, begin, end, pad]) =>
    editHeader((h, names) => void (entry(h, pick(names, i)) && (entry(h, pick(names, i))!.data_offsets = [begin, end])), pad),
  ),
  // Overlap: one tensor takes over another's whole entry, or slides its bytes by a few (same length).
  fc.tuple(fc.nat(), fc.nat(), fc.boolean()).map(([from, to, pad]) =>
    editHeader((h, names) => {
      const a = entry(h, pick(names, from));
      const name = pick(names, to);
      if (a && name !== undefined && name !== pick(names, from)) h[name] = structuredClone(a);
    }, pad),
  ),
  fc.tuple(fc.nat(), fc.integer({ min: -9, max: 9 }), fc.boolean()).map(([i, shift, pad]) =>
    editHeader((h, names) => {
      const offsets = entry(h, pick(names, i))?.data_offsets;
      if (Array.isArray(offsets) && typeof offsets[0] === "number" && typeof offsets[1] === "number") {
        entry(h, pick(names, i))!.data_offsets = [offsets[0] + shift, offsets[1] + shift];
      }
    }, pad),
  ),
  fc.tuple(fc.nat(), fc.string({ maxLength: 4 }), jsonish).map(([i, name, value]) =>
    editHeader((h, names) => void (h[i % 2 === 0 ? name : (pick(names, i) ?? name)] = value), true),
  ),
  fc.tuple(jsonish, fc.boolean()).map(([value, whole]) => editHeader((h) => (whole ? value : void (h.__metadata__ = value)), true)),
);

const dir = mkdtempSync(join(tmpdir(), "vidrd-io-fuzz-"));
let slowest = 0;
const verdicts = { parsed: 0, rejected: 0 };
try {
  let run = 0;
  fc.assert(
    fc.property(validFile, fc.array(mutation, { minLength: 1, maxLength: 3 }), (valid, mutations) => {
      const bytes = mutations.reduce((b, m) => m(b), valid);
      const started = performance.now();
      const inMemory = outcomeOf(() => SafetensorsFile.fromBytes(bytes, "fuzz"), "fuzz", bytes);
      const path = join(dir, `case-${run++ % 8}.safetensors`);
      writeFileSync(path, bytes);
      const onDisk = outcomeOf(() => SafetensorsFile.open(path), path, bytes);
      slowest = Math.max(slowest, performance.now() - started);
      verdicts[inMemory.ok ? "parsed" : "rejected"]++;
      // The same bytes give the same verdict (and message) whether read from memory or from disk.
      assert.deepEqual(onDisk, inMemory);
    }),
    // A fixed seed keeps CI reproducible; VIDRD_FUZZ_SEED explores other corruptions.
    { numRuns, seed: Number(process.env.VIDRD_FUZZ_SEED ?? 20261125) },
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify({ slowest, ...verdicts })}\n`);
