import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import {
  PickleRefusedError,
  PickleTruncatedError,
  PthError,
  isTuple,
  resolveTorchGlobal,
  unpickle,
  type PickleValue,
  type UnpicklerOptions,
} from "../../../src/io/pth/index.js";
import { pthFixture } from "./fixtures.js";

const strict: UnpicklerOptions = { label: "t.pkl", resolveGlobal: (m, n) => resolveTorchGlobal(m, n, "refuse") };
const load = (bytes: Uint8Array | number[] | string, options = strict) =>
  unpickle(typeof bytes === "string" ? Uint8Array.from(bytes, (c) => c.charCodeAt(0)) : Uint8Array.from(bytes), options).value;

/** Python's view of a value, as JSON-like data: tuples marked, dicts as sorted entry lists. */
function normalise(v: PickleValue): unknown {
  if (v instanceof Map) return { dict: [...v].map(([k, x]) => [normalise(k as PickleValue), normalise(x)]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))) };
  if (v instanceof Set) return { set: [...v].map((x) => normalise(x as PickleValue)).sort() };
  if (Array.isArray(v)) {
    const items = (v as PickleValue[]).map(normalise);
    return isTuple(v) ? { tuple: items } : items;
  }
  if (v instanceof Uint8Array) return { bytes: [...v] };
  if (typeof v === "bigint") return { int: String(v) };
  return v;
}

const PLAIN = {
  dict: [
    ["big", { int: String(2n ** 70n) }],
    ["bytearray", { bytes: [97, 98] }],
    ["bytes", { bytes: [0, 255] }],
    ["float", 0.1],
    ["frozenset", { set: [3] }],
    ["int", 5],
    ["list", [true, false, null]],
    ["neg", -70000],
    ["negbig", { int: String(-(2n ** 65n)) }],
    ["nested", { dict: [["a", [{ dict: [["b", []]] }]]] }],
    ["ordered", { dict: [["y", 2], ["z", 1]] }],
    ["set", { set: [1, 2] }],
    ["shared1", [1, 2]],
    ["shared2", [1, 2]],
    ["str", "h\u00e9llo \u2713"],
    ["tuple", { tuple: [1, "a", { tuple: [null] }] }],
  ],
};

for (const protocol of [0, 2, 4, 5]) {
  test(`plain containers pickled by CPython with protocol ${protocol} read exactly`, () => {
    const value = load(readFileSync(pthFixture(`plain_p${protocol}.pkl`)));
    assert.deepEqual(normalise(value), PLAIN);
    const dict = value as Map<string, PickleValue>;
    assert.equal(dict.get("shared1"), dict.get("shared2"), "a memoised list stays one object");
  });
}

for (const protocol of [2, 4]) {
  test(`a __reduce__ to os.system (protocol ${protocol}) is refused before anything is built`, () => {
    assert.throws(
      () => load(readFileSync(pthFixture(`malicious_p${protocol}.pkl`))),
      (e: unknown) => e instanceof PickleRefusedError && e.refused === "posix.system" && /^t\.pkl at byte \d+: refusing to load/.test(e.message),
    );
  });
}

test("unknown opcodes and opcodes that build objects by other routes are refused by name", () => {
  const refused = (bytes: string | number[], name: string) =>
    assert.throws(() => load(bytes), (e: unknown) => e instanceof PickleRefusedError && e.refused === name, name);
  refused(readFileSync(pthFixture("unknown_opcode.pkl")).toString("latin1"), "0xd0");
  refused("(i__main__\nEvil\n.", "INST");
  refused("(o.", "OBJ");
  refused([0x80, 0x02, 0x82, 0x01, 0x2e], "EXT1");
  refused([0x80, 0x05, 0x97, 0x2e], "NEXT_BUFFER");
  refused([0x80, 0x06, 0x4e, 0x2e], "PROTO 6");
  refused("cbuiltins\neval\n(S'1'\ntR.", "builtins.eval");
  // a global the allow-list knows only as a type name cannot be called
  refused("ctorch\nFloatStorage\n)R.", "torch.FloatStorage");
  // BUILD can only set state on dicts and inert records, never on a list
  refused("]}b.", "BUILD");
  // torch storages need the file layer; a bare stream has none
  refused("(S'storage'\ntQ.", "BINPERSID");
});

test("malformed streams fail with a PthError naming the byte, never a TypeError", () => {
  const malformed = (bytes: string, pattern: RegExp) =>
    assert.throws(() => load(bytes), (e: unknown) => e instanceof PthError && !(e instanceof PickleRefusedError) && pattern.test(e.message), bytes);
  malformed("h\x05.", /memo entry 5 was never stored/);
  malformed("K\x01)R.", /REDUCE on a int, which is not a global/);
  malformed("ccollections\nOrderedDict\nK\x01R.", /not a tuple/);
  malformed(")K\x01a.", /APPEND to a tuple/);
  malformed("}]K\x01s.", /unhashable/);
  malformed("0", /pop from an empty stack/);
  malformed("V\\UFFFFFFFF\n.", /escape beyond U\+10FFFF/);
  assert.equal(load("V\\u00e9\\U0001F600\n."), "\u00e9\u{1F600}");
  assert.deepEqual([load("Finf\n."), load("F-inf\n."), load("F1e+300\n.")], [Infinity, -Infinity, 1e300]);
  malformed(".", /STOP with an empty stack/);
  malformed("1", /no MARK/);
  assert.throws(() => load("X\xff\x00\x00\x00ab"), PickleTruncatedError);
  assert.throws(() => load("K"), PickleTruncatedError);
  assert.throws(() => load("cos\nsys"), PickleTruncatedError);
});

test("long lists (APPENDS of 300k items) load", () => {
  const items = "K\x07".repeat(300_000);
  assert.equal((load(`](${items}e.`) as PickleValue[]).length, 300_000);
});

test("dict keys such as __proto__ stay ordinary data", () => {
  const value = load("}X\x09\x00\x00\x00__proto__K\x01s.") as Map<string, PickleValue>;
  assert.equal(value.get("__proto__"), 1);
  assert.equal(Object.getPrototypeOf(value), Map.prototype);
});

test("property: any bytes either decode or fail with a PthError; the machine never runs away", () => {
  const seed = readFileSync(pthFixture("plain_p2.pkl"));
  const mutated = fc
    .array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 })
    .map((edits) => {
      const bytes = Uint8Array.from(seed);
      for (const [at, b] of edits) bytes[at] = b;
      return bytes;
    });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }), mutated), (bytes) => {
      try {
        unpickle(bytes, { ...strict, resolveGlobal: (m, n) => resolveTorchGlobal(m, n, "stub") });
      } catch (e) {
        if (!(e instanceof PthError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});
