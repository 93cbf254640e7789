// IEEE binary16 (float16) and bfloat16 conversions, round to nearest, ties to even, with subnormals,
// infinities and NaN. Halves are stored as their bit patterns in a Uint16Array (tensor.ts).
//
// Two paths on purpose:
// - scalar functions take any JS number (a double) and round it once, directly, to the 16-bit format
//   (going through float32 first would round twice and can differ at ties);
// - array functions read Float32Array elements as raw bits through a Uint32Array view of the same
//   buffer (integer ops only, no allocation per element, NaN payloads kept).
// For a value that is exactly a float32 both paths give the same bits (tested).

import { Tensor } from "./tensor.js";
import { pow2 } from "./portable-math.js";

interface BinaryFormat {
  /** Exponent field width in bits. */
  exponentBits: number;
  /** Stored mantissa (fraction) width in bits. */
  mantissaBits: number;
}
const FLOAT16: BinaryFormat = { exponentBits: 5, mantissaBits: 10 };
const BFLOAT16: BinaryFormat = { exponentBits: 8, mantissaBits: 7 };

const f64Bits = new DataView(new ArrayBuffer(8));
const SCALAR_F32 = new Float32Array(1);
const SCALAR_U32 = new Uint32Array(SCALAR_F32.buffer);

/** Round to the nearest integer, ties to even; y >= 0 and below 2^52, so floor and subtraction are exact. */
function roundHalfEven(y: number): number {
  const n = Math.floor(y);
  const d = y - n;
  if (d > 0.5) return n + 1;
  if (d < 0.5) return n;
  return n % 2 === 0 ? n : n + 1;
}

/** The bits of x rounded to `format` (sign, exponent, mantissa; no implicit bit). */
function encodeBinary(x: number, format: BinaryFormat): number {
  const { exponentBits, mantissaBits } = format;
  f64Bits.setFloat64(0, x);
  const hi = f64Bits.getUint32(0);
  const sign = hi >>> 31 ? 1 << (exponentBits + mantissaBits) : 0;
  const expAllOnes = ((1 << exponentBits) - 1) << mantissaBits;
  if (Number.isNaN(x)) {
    // keep the payload's top bits and force the quiet bit so the result stays a NaN
    const payload = (hi & 0xfffff) >>> (20 - mantissaBits);
    return sign | expAllOnes | payload | (1 << (mantissaBits - 1));
  }
  const ax = Math.abs(x);
  if (ax === Infinity) return sign | expAllOnes;
  const bias = (1 << (exponentBits - 1)) - 1;
  const emin = 1 - bias;
  if (ax < pow2(emin)) {
    // subnormal target: count units of the smallest subnormal, 2^(emin - mantissaBits); a count of
    // 2^mantissaBits is the smallest normal, whose bit pattern is that same number
    return sign | roundHalfEven(ax * pow2(mantissaBits - emin));
  }
  const e = ((hi >>> 20) & 0x7ff) - 1023; // ax >= 2^emin >= 2^-126, so ax is a normal double
  if (e + bias >= (1 << exponentBits) - 1) return sign | expAllOnes;
  // ax = m 2^e, m in [1, 2); q counts units of 2^(e - mantissaBits), q in [2^mb, 2^(mb+1)]. q = 2^(mb+1)
  // (rounded up past the binade) carries into the exponent, and into infinity at the top: both right.
  const q = roundHalfEven(ax * pow2(mantissaBits - e));
  return sign | (((e + bias) << mantissaBits) + q - (1 << mantissaBits));
}

/** The float16 bit pattern nearest to x (ties to even; beyond 65520 in magnitude: infinity). */
export function float16Bits(x: number): number {
  return encodeBinary(x, FLOAT16);
}

/** The bfloat16 bit pattern nearest to x (ties to even). */
export function bfloat16Bits(x: number): number {
  return encodeBinary(x, BFLOAT16);
}

/** The value of a float16 bit pattern (exact: every float16 is a double). */
export function fromFloat16Bits(h: number): number {
  if (!Number.isInteger(h) || h < 0 || h > 0xffff) throw new Error(`fromFloat16Bits: ${h} is not a 16-bit pattern (an integer in [0, 65535])`);
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * pow2(-24);
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1024 + m) * pow2(e - 25);
}

/** The value of a bfloat16 bit pattern (exact). */
export function fromBfloat16Bits(h: number): number {
  if (!Number.isInteger(h) || h < 0 || h > 0xffff) throw new Error(`fromBfloat16Bits: ${h} is not a 16-bit pattern (an integer in [0, 65535])`);
  SCALAR_U32[0] = h << 16;
  return SCALAR_F32[0];
}
function checkOut<T extends Uint16Array | Float32Array>(op: string, n: number, out: T | undefined, make: (n: number) => T): T {
  if (out === undefined) return make(n);
  if (out.length !== n) throw new Error(`${op}: out has ${out.length} elements, input has ${n}; they must match`);
  return out;
}

function bitsView(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** float32 -> float16 bit patterns, ties to even; NaN payload's top bits kept (quiet bit set). */
export function float32ToFloat16Array(src: Float32Array, out?: Uint16Array): Uint16Array {
  const dst = checkOut("float32ToFloat16Array", src.length, out, (n) => new Uint16Array(n));
  const u = bitsView(src);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    const sign = (x >>> 16) & 0x8000;
    const a = x & 0x7fffffff;
    let h: number;
    if (a >= 0x38800000) {
      // |x| >= 2^-14: a normal half, or inf/NaN
      if (a >= 0x7f800000) h = a === 0x7f800000 ? 0x7c00 : 0x7e00 | ((a >>> 13) & 0x3ff);
      else if (a >= 0x477ff000) h = 0x7c00; // >= 65520, the midpoint between 65504 and 2^16: ties to even go up
      // rebias the exponent (127 -> 15: subtract 112 << 23) and round the 13 dropped bits half to even;
      // a carry out of the mantissa correctly bumps the exponent
      else h = (a + 0xfff + ((a >>> 13) & 1) - 0x38000000) >>> 13;
    } else if (a > 0x33000000) {
      // 2^-25 < |x| < 2^-14: a half subnormal (or the smallest normal after rounding), in units of 2^-24
      const e = a >>> 23;
      const mant = (a & 0x7fffff) | 0x800000;
      const shift = 126 - e; // 14..24: value = mant 2^(e - 150) = (mant >> shift) units of 2^-24
      const q = mant >>> shift;
      const rest = mant - (q << shift);
      const halfUnit = 1 << (shift - 1);
      h = rest > halfUnit || (rest === halfUnit && (q & 1) === 1) ? q + 1 : q;
    } else {
      h = 0; // at most 2^-25 (half the smallest subnormal): ties to even give zero
    }
    dst[i] = sign | h;
  }
  return dst;
}

// float16 -> float32 bits for all 65536 patterns (256 KiB), built on first use with integer ops only.
let halfToSingleBits: Uint32Array | undefined;
function halfTable(): Uint32Array {
  if (halfToSingleBits) return halfToSingleBits;
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const e = (h >>> 10) & 0x1f;
    let m = h & 0x3ff;
    let bits: number;
    if (e === 31) bits = 0x7f800000 | (m << 13);
    else if (e !== 0) bits = ((e + 112) << 23) | (m << 13);
    else if (m === 0) bits = 0;
    else {
      // subnormal half m 2^-24: normalise so the leading one sits at bit 10, then drop it
      let e32 = 113; // the exponent field of 2^-14
      while ((m & 0x400) === 0) {
        m <<= 1;
        e32--;
      }
      bits = (e32 << 23) | ((m & 0x3ff) << 13);
    }
    t[h] = (sign | bits) >>> 0;
  }
  halfToSingleBits = t;
  return t;
}

/** float16 bit patterns -> float32 (exact; NaN payloads kept). */
export function float16ToFloat32Array(src: Uint16Array, out?: Float32Array): Float32Array {
  const dst = checkOut("float16ToFloat32Array", src.length, out, (n) => new Float32Array(n));
  const t = halfTable();
  const u = bitsView(dst);
  for (let i = 0; i < src.length; i++) u[i] = t[src[i]];
  return dst;
}

/** float32 -> bfloat16 bit patterns, ties to even; NaN stays NaN (payload's top bits kept, quiet bit set). */
export function float32ToBfloat16Array(src: Float32Array, out?: Uint16Array): Uint16Array {
  const dst = checkOut("float32ToBfloat16Array", src.length, out, (n) => new Uint16Array(n));
  const u = bitsView(src);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    // NaN: truncating could clear every mantissa bit and turn it into infinity
    if ((x & 0x7fffffff) > 0x7f800000) dst[i] = (x >>> 16) | 0x40;
    // round the 16 dropped bits half to even; overflow past the largest finite carries into infinity.
    // x + 0x8000 < 2^32 for every non-NaN x, so the sum is exact before the shift.
    else dst[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return dst;
}

/** bfloat16 bit patterns -> float32 (exact: bfloat16 is the top half of a float32). */
export function bfloat16ToFloat32Array(src: Uint16Array, out?: Float32Array): Float32Array {
  const dst = checkOut("bfloat16ToFloat32Array", src.length, out, (n) => new Float32Array(n));
  const u = bitsView(dst);
  for (let i = 0; i < src.length; i++) u[i] = src[i] << 16;
  return dst;
}

/** A float32 (or float16) tensor as a new float16 tensor of the same shape. */
export function toFloat16(t: Tensor): Tensor<"float16"> {
  if (t.dtype === "float16") return (t as Tensor<"float16">).clone();
  if (t.dtype !== "float32") throw new Error(`toFloat16: tensor ${t.describe()} has dtype ${t.dtype}; allowed: float32, float16`);
  return new Tensor("float16", float32ToFloat16Array(t.data as Float32Array), t.shape);
}

/** A float16 (or float32) tensor as a new float32 tensor of the same shape. */
export function toFloat32(t: Tensor): Tensor<"float32"> {
  if (t.dtype === "float32") return (t as Tensor<"float32">).clone();
  if (t.dtype !== "float16") throw new Error(`toFloat32: tensor ${t.describe()} has dtype ${t.dtype}; allowed: float16, float32`);
  return new Tensor("float32", float16ToFloat32Array(t.data as Uint16Array), t.shape);
}
