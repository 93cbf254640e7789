import { test } from "node:test";
import assert from "node:assert/strict";
import {
  bfloat16Bits,
  bfloat16ToFloat32Array,
  float16Bits,
  float16ToFloat32Array,
  float32ToBfloat16Array,
  float32ToFloat16Array,
  fromBfloat16Bits,
  fromFloat16Bits,
  toFloat16,
  toFloat32,
} from "../../src/tensor/float16.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { Rng } from "../../src/tensor/rng.js";
import { float32Bits, float32FromBits } from "./helpers.js";

// Independent decoders, straight from the IEEE 754 definitions (value = (-1)^s 2^(e - bias) 1.m, or
// 2^(1 - bias) 0.m for subnormals).
function halfValue(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 31) return m ? NaN : s * Infinity;
  return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
}
function bf16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 7) & 255;
  const m = h & 127;
  if (e === 255) return m ? NaN : s * Infinity;
  return e === 0 ? s * m * 2 ** -133 : s * (1 + m / 128) * 2 ** (e - 127);
}
const nextUp32 = (x: number): number => float32FromBits(float32Bits(x) + 1); // x > 0
const nextDown32 = (x: number): number => float32FromBits(float32Bits(x) - 1); // x > 0

function halfArray(xs: number[]): number[] {
  return Array.from(float32ToFloat16Array(Float32Array.from(xs)));
}

test("float16Bits matches CPython's struct 'e' packing (ties to even, from the double directly)", () => {
  // printed by python3: struct.unpack('<H', struct.pack('<e', v)); the last three cases differ from
  // rounding through float32 first (1 + 2^-11 + 2^-40 is just above a tie)
  const golden: [number, number][] = [
    [0.0, 0x0], [-0.0, 0x8000], [1.0, 0x3c00], [-2.0, 0xc000], [0.1, 0x2e66], [1 / 3, 0x3555],
    [Math.PI, 0x4248], [-Math.E, 0xc170], [65504, 0x7bff], [65519.99, 0x7bff], [2 ** -14, 0x400],
    [2 ** -24, 0x1], [2 ** -25, 0x0], [2 ** -25 * (1 + 2 ** -20), 0x1], [3 * 2 ** -26, 0x1],
    [5 * 2 ** -26, 0x1], [6e-8, 0x1], [-6e-5, 0x83ef], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
    [1024.5, 0x6400], [1025.5, 0x6402], [2049, 0x6800], [2051, 0x6802], [1e-300, 0x0], [12345.678, 0x7207],
    [1 + 2 ** -11 + 2 ** -40, 0x3c01],
  ];
  for (const [x, h] of golden) assert.equal(float16Bits(x), h, `float16Bits(${x})`);
  // struct refuses these (OverflowError); IEEE rounding to nearest gives infinity from 65520 up
  assert.equal(float16Bits(65520), 0x7c00);
  assert.equal(float16Bits(-1e5), 0xfc00);
  assert.equal(float16Bits(Infinity), 0x7c00);
  assert.equal(float16Bits(-Infinity), 0xfc00);
  assert.ok(Number.isNaN(halfValue(float16Bits(NaN))));
});

test("bfloat16Bits rounds the double once, ties to even (hand-worked cases)", () => {
  assert.equal(bfloat16Bits(1), 0x3f80);
  assert.equal(bfloat16Bits(-2), 0xc000);
  assert.equal(bfloat16Bits(1 + 2 ** -8), 0x3f80); // tie between 0x3f80 and 0x3f81: even
  assert.equal(bfloat16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie between 0x3f81 and 0x3f82: even
  assert.equal(bfloat16Bits(1 + 2 ** -8 + 2 ** -30), 0x3f81); // just above the tie (float32 would lose 2^-30)
  assert.equal(bfloat16Bits(3.4028234663852886e38), 0x7f80); // float32 max rounds past bf16 max to inf
  assert.equal(bfloat16Bits(2 ** -133), 0x0001); // smallest bf16 subnormal
  assert.equal(bfloat16Bits(2 ** -134), 0x0000); // half of it: tie to even zero
  assert.equal(bfloat16Bits(-0), 0x8000);
  assert.ok(Number.isNaN(bf16Value(bfloat16Bits(NaN))));
});

test("float16 decoding of all 65536 patterns matches the IEEE definition, array and scalar", () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const f = float16ToFloat32Array(all);
  const bits = new Uint32Array(f.buffer);
  for (let h = 0; h < 65536; h++) {
    const want = halfValue(h);
    if (Number.isNaN(want)) {
      // NaN keeps sign and payload: the 10 mantissa bits move to the top of float32's 23
      assert.equal(bits[h], (((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0, `NaN 0x${h.toString(16)}`);
      assert.ok(Number.isNaN(fromFloat16Bits(h)));
    } else {
      assert.ok(Object.is(f[h], want), `0x${h.toString(16)}: ${f[h]} vs ${want}`);
      assert.ok(Object.is(fromFloat16Bits(h), want));
    }
  }
});

test("float16 encoding rounds every tie and near-tie between neighbours correctly, array and scalar", () => {
  // for each pair of adjacent positive halves: the midpoint (exact in float32: 12 significant bits) goes
  // to the even one, one float32 ulp either side goes to the nearer one
  const xs: number[] = [];
  const want: number[] = [];
  for (let h = 0; h < 0x7bff; h++) {
    const lo = halfValue(h);
    const hi = halfValue(h + 1);
    const mid = (lo + hi) / 2;
    xs.push(lo, mid, nextUp32(mid), mid === 0 ? 0 : nextDown32(mid));
    want.push(h, h % 2 === 0 ? h : h + 1, h + 1, h);
  }
  // top: 65504 is the largest half; 65520 is the midpoint to 2^16 and ties to infinity (0x7bff is odd)
  xs.push(65504, 65520, nextDown32(65520), 3.4028234663852886e38, float32FromBits(1), 2 ** -25, nextUp32(2 ** -25));
  want.push(0x7bff, 0x7c00, 0x7bff, 0x7c00, 0, 0, 1);
  const neg = xs.map((x) => -x);
  const wantNeg = want.map((h) => h | 0x8000);
  const got = halfArray([...xs, ...neg]);
  const expected = [...want, ...wantNeg];
  for (let k = 0; k < expected.length; k++) {
    const x = k < xs.length ? xs[k] : neg[k - xs.length];
    if (got[k] !== expected[k]) assert.fail(`array: ${x} -> 0x${got[k].toString(16)}, want 0x${expected[k].toString(16)}`);
    const s = float16Bits(x);
    if (s !== expected[k]) assert.fail(`scalar: ${x} -> 0x${s.toString(16)}, want 0x${expected[k].toString(16)}`);
  }
});

test("float16 infinities, NaN and signed zero", () => {
  assert.deepEqual(halfArray([Infinity, -Infinity, 0, -0]), [0x7c00, 0xfc00, 0x0000, 0x8000]);
  // signalling NaN 0x7fa00001: payload's top 10 bits (0b0100000000) kept, quiet bit set -> 0x7f00;
  // 0xff800001 has payload only in low bits and must not become -infinity
  const h = float32ToFloat16Array(new Float32Array(new Uint32Array([0x7fa00001, 0xff800001, 0x7fc00000]).buffer));
  assert.deepEqual(Array.from(h), [0x7f00, 0xfe00, 0x7e00]);
});

test("half -> float32 -> half is the identity on all non-NaN patterns; NaN stays NaN", () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const back = float32ToFloat16Array(float16ToFloat32Array(all));
  for (let h = 0; h < 65536; h++) {
    if (Number.isNaN(halfValue(h))) assert.ok(Number.isNaN(halfValue(back[h])), `NaN 0x${h.toString(16)}`);
    else assert.equal(back[h], h);
  }
});

test("array and scalar float16 encoders agree on 200000 random float32 bit patterns", () => {
  const rng = new Rng(2024);
  const u = new Uint32Array(200000);
  for (let i = 0; i < u.length; i++) {
    const w = rng.nextUint32();
    // half the patterns near the float16 range, where all the rounding happens
    u[i] = i % 2 ? w : ((w & 0x807fffff) | ((0x30 + ((w >>> 23) & 0x1f)) << 23)) >>> 0;
  }
  const f = new Float32Array(u.buffer);
  const h = float32ToFloat16Array(f);
  for (let i = 0; i < f.length; i++) {
    if (Number.isNaN(f[i])) continue;
    if (h[i] !== float16Bits(f[i])) assert.fail(`${f[i]}: array 0x${h[i].toString(16)}, scalar 0x${float16Bits(f[i]).toString(16)}`);
  }
});

test("bfloat16: decoding is the IEEE value; every tie and near-tie rounds correctly; NaN preserved", () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const f = bfloat16ToFloat32Array(all);
  for (let h = 0; h < 65536; h++) {
    const want = bf16Value(h);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(f[h]) && Number.isNaN(fromBfloat16Bits(h)));
    else assert.ok(Object.is(f[h], want) && Object.is(fromBfloat16Bits(h), want), `0x${h.toString(16)}`);
  }
  const xs: number[] = [];
  const want: number[] = [];
  for (let h = 0; h < 0x7f7f; h++) {
    const mid = (bf16Value(h) + bf16Value(h + 1)) / 2; // 9 significant bits: exact in float32
    xs.push(bf16Value(h), mid, nextUp32(mid), mid === 0 ? 0 : nextDown32(mid));
    want.push(h, h % 2 === 0 ? h : h + 1, h + 1, h);
  }
  const got = float32ToBfloat16Array(Float32Array.from([...xs, ...xs.map((x) => -x)]));
  for (let k = 0; k < xs.length; k++) {
    if (got[k] !== want[k] || got[k + xs.length] !== (want[k] | 0x8000)) {
      assert.fail(`${xs[k]} -> 0x${got[k].toString(16)} / 0x${got[k + xs.length].toString(16)}, want 0x${want[k].toString(16)}`);
    }
    if (bfloat16Bits(xs[k]) !== want[k]) assert.fail(`scalar ${xs[k]} -> 0x${bfloat16Bits(xs[k]).toString(16)}`);
  }
  // NaN whose payload is only in the low 16 bits: truncation alone would give infinity
  const nan = float32ToBfloat16Array(new Float32Array(new Uint32Array([0x7f800001, 0xffc00000, 0x7f800000, 0x7f7fffff]).buffer));
  assert.deepEqual(Array.from(nan), [0x7fc0, 0xffc0, 0x7f80, 0x7f80]);
});

test("array conversions fill `out` and reject a length mismatch by name", () => {
  const out = new Uint16Array(2);
  assert.equal(float32ToFloat16Array(Float32Array.from([1, 2]), out), out);
  assert.deepEqual(Array.from(out), [0x3c00, 0x4000]);
  // a view at an offset: the Uint32Array view must follow the subarray, not the start of the buffer
  const back = float16ToFloat32Array(Uint16Array.from([0x3c00, 0xc000]), new Float32Array(4).subarray(2));
  assert.deepEqual(Array.from(back), [1, -2]);
  const src = Float32Array.from([0, 0, 3, 0.5]).subarray(2);
  assert.deepEqual(Array.from(float32ToFloat16Array(src)), [0x4200, 0x3800]);
  assert.throws(() => float32ToFloat16Array(new Float32Array(3), new Uint16Array(2)), /float32ToFloat16Array: out has 2 elements, input has 3/);
  assert.throws(() => bfloat16ToFloat32Array(new Uint16Array(3), new Float32Array(1)), /bfloat16ToFloat32Array: out has 1 elements, input has 3/);
  assert.throws(() => fromFloat16Bits(65536), /fromFloat16Bits: 65536 is not a 16-bit pattern/);
});

test("toFloat16 / toFloat32 convert tensors, keep the shape, copy, and name a wrong dtype", () => {
  const t = Tensor.float32([1, -2, 0.5, 65520], [2, 2]);
  const h = toFloat16(t);
  assert.equal(h.dtype, "float16");
  assert.deepEqual(h.shape, [2, 2]);
  assert.deepEqual(Array.from(h.data), [0x3c00, 0xc000, 0x3800, 0x7c00]);
  const f = toFloat32(h);
  assert.deepEqual(Array.from(f.data), [1, -2, 0.5, Infinity]);
  const same = toFloat32(t);
  assert.notEqual(same.data, t.data);
  assert.throws(() => toFloat16(Tensor.int32([1], [1])), /toFloat16: tensor int32\[1\] has dtype int32; allowed: float32, float16/);
});
