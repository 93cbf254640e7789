import { test } from "node:test";
import assert from "node:assert/strict";
import { canonical, dimAdd, dimDiv, dimEq, dimMul, dimProduct, dimWindow, divisibilityOf, evaluateDim } from "../../src/graph/dim.js";

test("symbolic products are canonical whatever the order", () => {
  assert.equal(dimMul("F", "B"), "B*F");
  assert.equal(canonical("W*B*H"), "B*H*W");
  assert.ok(dimEq(dimProduct(["B", "H", "W"]), "W*H*B"));
  assert.equal(dimMul(2, "F"), "2*F");
  assert.equal(dimMul(3, 4), 12);
});

test("quotients cancel symbols and halve for down-sampling", () => {
  assert.equal(dimDiv("B*F", "F"), "B");
  assert.equal(dimDiv("H", 2), "H/2");
  assert.equal(dimMul("H/2", 2), "H");
  assert.equal(dimDiv("H/2", 2), "H/4");
  assert.equal(dimDiv(12, 4), 3);
  // not a monomial: opaque, equal only to itself
  assert.match(String(dimDiv("B", "F")), /^\(/);
  assert.match(String(dimDiv(7, 2)), /^\(/);
});

test("sums of like symbols combine, unlike ones are opaque", () => {
  assert.equal(dimAdd("F", "F"), "2*F");
  assert.equal(dimAdd(3, 4), 7);
  const s = dimAdd("F", 2);
  assert.match(String(s), /^\(/);
  assert.ok(!dimEq(s, "F"));
});

test("convolution windows: same padding keeps, stride 2 halves", () => {
  assert.equal(dimWindow(32, 2, 3, 1), 32);
  assert.equal(dimWindow(32, 2, 3, 2), 16);
  assert.equal(dimWindow(33, 2, 3, 2), 17); // ceil(33 / 2)
  assert.equal(dimWindow(5, 0, 3, 1), 3);
  assert.equal(dimWindow("H", 2, 3, 1), "H");
  assert.equal(dimWindow("H", 2, 3, 2), "H/2");
  assert.equal(dimWindow("H", 0, 1, 1), "H");
});

test("evaluation binds symbols", () => {
  const b = new Map([["B", 2], ["F", 8], ["H", 32]]);
  assert.equal(evaluateDim("B*F", b), 16);
  assert.equal(evaluateDim("H/2", b), 16);
  assert.equal(evaluateDim("W", b), null);
  assert.equal(evaluateDim(5, b), 5);
});

test("several denominators fold into one: H/2/2 is H/4", () => {
  assert.equal(canonical("H/2/2"), "H/4");
  assert.equal(canonical("2*H/4/2"), "H/4");
  assert.ok(dimEq("H/2/2", dimDiv("H", 4)));
  assert.equal(dimMul("H/2/2", 4), "H");
  assert.equal(evaluateDim("H/2/2", new Map([["H", 8]])), 2);
});

test("dividing or multiplying by 1 keeps a dimension, opaque ones included", () => {
  assert.equal(dimDiv("(H+1)", 1), "(H+1)");
  assert.equal(dimMul("(H+1)", 1), "(H+1)");
  assert.equal(dimMul(1, "(H+1)"), "(H+1)");
  assert.equal(dimProduct(["(H+1)"]), "(H+1)");
  assert.equal(dimDiv("(H+1)", "(H+1)"), 1);
  // a stride-1 "same" window on an opaque dim keeps it
  assert.equal(dimWindow("(H+1)", 2, 3, 1), "(H+1)");
  assert.equal(dimDiv("B*F", 1), "B*F");
});

test("a fractional dimension names the divisibility it assumes; evaluation shows when sizes break it", () => {
  assert.deepEqual(divisibilityOf("H/2"), { numerator: "H", divisor: 2 });
  assert.deepEqual(divisibilityOf("3*H/4"), { numerator: "3*H", divisor: 4 });
  assert.deepEqual(divisibilityOf("B*F/3"), { numerator: "B*F", divisor: 3 });
  assert.equal(divisibilityOf("2*H"), null);
  assert.equal(divisibilityOf(7), null);
  assert.equal(divisibilityOf("(H+1)"), null);
  assert.equal(evaluateDim("H/2", new Map([["H", 5]])), 2.5);
  assert.equal(evaluateDim("B*F/3", new Map([["B", 3], ["F", 7]])), 7);
});
