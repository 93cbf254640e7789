import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { compareNatural } from "../../src/io/index.js";

test("numbers inside names compare by value", () => {
  assert.deepEqual(["noise.10", "noise.2", "noise.1", "noise.0"].sort(compareNatural), ["noise.0", "noise.1", "noise.2", "noise.10"]);
  assert.deepEqual(["b2", "a10", "a9", "a"].sort(compareNatural), ["a", "a9", "a10", "b2"]);
  assert.deepEqual(["x.2.10", "x.2.9", "x.10.1"].sort(compareNatural), ["x.2.9", "x.2.10", "x.10.1"]);
  // Beyond 2^53 the order stays exact.
  assert.ok(compareNatural("n9007199254740993", "n9007199254740992") > 0);
  // Equal values with different zero padding still order, deterministically.
  assert.deepEqual(["a1", "a01", "a001"].sort(compareNatural), ["a001", "a01", "a1"]);
  assert.equal(compareNatural("same", "same"), 0);
});

test("property: zero-padded and unpadded indices sort in numeric order", () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.nat({ max: 10 ** 7 }), { maxLength: 30 }), fc.nat({ max: 8 }), (indices, pad) => {
      const names = indices.map((i) => `noise.${String(i).padStart(pad, "0")}`);
      const sorted = [...names].sort(compareNatural).map((n) => Number(n.slice(6)));
      assert.deepEqual(sorted, [...indices].sort((a, b) => a - b));
    }),
  );
});

test("property: a total order (antisymmetric, transitive, zero only for equal strings)", () => {
  const name = fc.string({ unit: fc.constantFrom("a", "b", ".", "0", "1", "9"), maxLength: 6 });
  fc.assert(
    fc.property(name, name, name, (a, b, c) => {
      assert.equal(Math.sign(compareNatural(a, b)) + Math.sign(compareNatural(b, a)), 0);
      assert.equal(compareNatural(a, b) === 0, a === b);
      if (compareNatural(a, b) <= 0 && compareNatural(b, c) <= 0) assert.ok(compareNatural(a, c) <= 0, `${a} ${b} ${c}`);
    }),
    { numRuns: 2000 },
  );
});
