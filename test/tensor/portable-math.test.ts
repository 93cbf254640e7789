import { test } from "node:test";
import assert from "node:assert/strict";
import { portableExp, portableLog, pow2 } from "../../src/tensor/portable-math.js";

// Reference: the engine's Math.exp/Math.log (an independent implementation, within 1 ulp); ours must
// stay within a few ulp of them everywhere the RNG uses them and beyond.
function ulps(got: number, want: number): number {
  return Math.abs(got - want) / (Math.abs(want) * 2 ** -52);
}

test("pow2 builds exact powers of two", () => {
  assert.equal(pow2(0), 1);
  assert.equal(pow2(10), 1024);
  assert.equal(pow2(-1), 0.5);
  assert.equal(pow2(-1022), 2.2250738585072014e-308);
  assert.equal(pow2(1023), 8.98846567431158e307);
  assert.throws(() => pow2(1024), /pow2: exponent 1024 is not an integer in \[-1022, 1023\]/);
});

test("portableExp is within 2 ulp of Math.exp over its range", () => {
  assert.equal(portableExp(0), 1);
  assert.ok(ulps(portableExp(1), Math.E) <= 1);
  assert.equal(portableExp(-Infinity), 0);
  assert.equal(portableExp(Infinity), Infinity);
  assert.ok(Number.isNaN(portableExp(NaN)));
  let worst = 0;
  for (let k = 0; k <= 200000; k++) {
    const x = -740 + (1449 * k) / 200000;
    const want = Math.exp(x);
    if (want < 2.2250738585072014e-308) continue; // subnormal results: relative ulps are meaningless
    worst = Math.max(worst, ulps(portableExp(x), want));
  }
  for (let k = 0; k <= 100000; k++) {
    const x = -8 + (8 * k) / 100000; // the ziggurat's range: exp(-x^2 / 2)
    worst = Math.max(worst, ulps(portableExp(x), Math.exp(x)));
  }
  assert.ok(worst <= 2, `worst ${worst} ulp`);
});

test("portableLog is within 3 ulp of Math.log over the doubles", () => {
  assert.equal(portableLog(1), 0);
  assert.ok(ulps(portableLog(2), Math.LN2) <= 1);
  assert.equal(portableLog(0), -Infinity);
  assert.equal(portableLog(Infinity), Infinity);
  assert.ok(Number.isNaN(portableLog(-1)));
  assert.ok(ulps(portableLog(5e-324), Math.log(5e-324)) <= 1);
  let worst = 0;
  for (let k = 1; k <= 200000; k++) {
    const x = Math.exp(-744 + (1453 * k) / 200000);
    worst = Math.max(worst, ulps(portableLog(x), Math.log(x)));
  }
  for (let k = 1; k <= 100000; k++) {
    const x = k / 100000; // uniforms in (0, 1], as in the tail sampler
    if (x !== 1) worst = Math.max(worst, ulps(portableLog(x), Math.log(x)));
  }
  assert.ok(worst <= 3, `worst ${worst} ulp`);
});
