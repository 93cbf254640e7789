// Comparison helpers for tests (kept out of src/: the library never needs "close enough").

import assert from "node:assert/strict";

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "lengths differ");
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Bit-for-bit equality of two float32 arrays (distinguishes -0 from 0 and compares NaN payloads). */
export function assertSameBits(a: Float32Array, b: Float32Array, message = "float32 bits differ"): void {
  assert.equal(a.length, b.length, `${message}: lengths ${a.length} and ${b.length}`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) assert.fail(`${message} at ${i}: ${a[i]} (0x${ua[i].toString(16)}) vs ${b[i]} (0x${ub[i].toString(16)})`);
  }
}

export function float32Bits(x: number): number {
  const f = new Float32Array([x]);
  return new Uint32Array(f.buffer)[0];
}

export function float32FromBits(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0];
}

/** FNV-1a (32-bit) over the little-endian bytes of 32-bit words; tools/rng_golden.py computes the same. */
export function fnv1a32(words: Uint32Array): number {
  let h = 0x811c9dc5;
  for (const w of words) {
    for (let k = 0; k < 4; k++) {
      h ^= (w >>> (8 * k)) & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h;
}
