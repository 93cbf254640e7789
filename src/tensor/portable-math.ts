// exp and log built only from +, -, *, / (which IEEE 754 rounds exactly, and JavaScript forbids fusing),
// so their results are the same bits on every engine and every machine. Math.exp/Math.log are only
// promised to be "implementation-approximated"; V8's fdlibm port agrees with itself, but a seeded video
// should not depend on which engine or version drew it. Used where the RNG needs a transcendental
// (ziggurat tables, its rare tail and wedge paths), never in hot loops. Accuracy: a few ulp.

const LN2_HI = 6.93147180369123816490e-1; // ln 2 with its low 32 bits zero, so k * LN2_HI is exact for |k| < 2^20
const LN2_LO = 1.90821492927058770002e-10; // ln 2 - LN2_HI
const INV_LN2 = 1.44269504088896338700;
const SQRT2 = 1.41421356237309514547;

const bits = new DataView(new ArrayBuffer(8));

/** 2^k for an integer k in [-1022, 1023], built from its bit pattern (exact by construction). */
export function pow2(k: number): number {
  if (!Number.isInteger(k) || k < -1022 || k > 1023) throw new Error(`pow2: exponent ${k} is not an integer in [-1022, 1023]`);
  // big-endian DataView access: the high word holds sign, exponent and the top mantissa bits
  bits.setUint32(0, (k + 1023) << 20);
  bits.setUint32(4, 0);
  return bits.getFloat64(0);
}

/** e^x, deterministic across engines. */
export function portableExp(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x > 709.782712893384) return Infinity;
  if (x < -745.1332191019412) return 0;
  // Cody-Waite reduction: x = k ln2 + r with |r| <= ln2 / 2
  const k = Math.round(x * INV_LN2);
  const r = x - k * LN2_HI - k * LN2_LO;
  // Taylor series to r^14/14! in nested form 1 + r(1 + r/2(1 + r/3(...))); the first dropped term is
  // below 2^-56 for |r| <= 0.35
  let er = 1;
  for (let n = 14; n >= 1; n--) er = 1 + (er * r) / n;
  // split the scaling so that results near the subnormal range do not need pow2(k < -1022)
  if (k < -1000) return er * pow2(k + 1000) * pow2(-1000);
  if (k > 1000) return er * pow2(k - 1000) * pow2(1000);
  return er * pow2(k);
}

/** Natural log of x, deterministic across engines. */
export function portableLog(x: number): number {
  if (Number.isNaN(x) || x < 0) return NaN;
  if (x === 0) return -Infinity;
  if (x === Infinity) return Infinity;
  let e = 0;
  if (x < pow2(-1022)) {
    x *= pow2(54); // subnormal: bring into the normal range first
    e = -54;
  }
  bits.setFloat64(0, x);
  const hi = bits.getUint32(0);
  e += ((hi >>> 20) & 0x7ff) - 1023;
  bits.setUint32(0, (hi & 0x800fffff) | (1023 << 20)); // same mantissa, exponent 0: m in [1, 2)
  let m = bits.getFloat64(0);
  if (m > SQRT2) {
    m /= 2;
    e += 1;
  }
  // log m = 2 atanh s, s = (m - 1)/(m + 1), |s| <= 0.1716; m - 1 is exact (Sterbenz)
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  // terms to s^25/25: the first dropped one is below 2^-60 relative
  let p = 1 / 25;
  for (let n = 23; n >= 1; n -= 2) p = p * s2 + 1 / n;
  const logm = 2 * s * p;
  return e * LN2_HI + (logm + e * LN2_LO);
}
