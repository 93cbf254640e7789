// IEEE 754 binary16 from its definition: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits;
// exponent field 0 holds zero and subnormals (fraction * 2^-24), 31 holds infinities and NaN.
// Rounding is to nearest, ties to even, done once from the double given (written independently of
// src/tensor/float16.ts, which it checks by way of the runtime's Cast).

/** The value a binary16 bit pattern stands for. */
export function halfBitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1024 + fraction) * 2 ** (exponent - 25);
}

/** Round half to even of a non-negative number whose integer part is exact in a double. */
function roundHalfEven(m: number): number {
  const lower = Math.floor(m);
  const rest = m - lower;
  if (rest > 0.5) return lower + 1;
  if (rest < 0.5) return lower;
  return lower % 2 === 0 ? lower : lower + 1;
}

/** The binary16 bit pattern nearest to `x` (ties to even). */
export function numberToHalfBits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === 0) return sign;
  if (a === Infinity) return sign | 0x7c00;
  // Exponent e with 2^e <= a < 2^(e+1); below 2^-14 the spacing stays 2^-24 (subnormals).
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  if (e < -14) e = -14;
  // Significand in units of the spacing 2^(e-10): 1024..2047 for normals, below 1024 for subnormals.
  // Dividing by a power of two is exact, so this is a's exact value in those units.
  let m = roundHalfEven(a / 2 ** (e - 10));
  if (m === 2048) {
    m = 1024;
    e++;
  }
  if (e > 15) return sign | 0x7c00;
  if (m < 1024) return sign | m; // subnormal (exponent field 0)
  return sign | ((e + 15) << 10) | (m - 1024);
}

/** `x` rounded to the nearest binary16 value. */
export function roundToHalf(x: number): number {
  return halfBitsToNumber(numberToHalfBits(x));
}
