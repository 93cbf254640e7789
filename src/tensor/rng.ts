// Seeded random numbers: the same seed gives the same bits on every machine and engine.
//
// Generator: xoshiro128** 1.1 (Blackman & Vigna, "Scrambled Linear Pseudorandom Number Generators",
// ACM TOMS 2021; reference C at prng.di.unimi.it). Why this one:
// - its step is 32-bit xor/shift/rotate plus two multiplies by small constants, which JavaScript does
//   exactly and fast (Math.imul, <<, >>>); PCG32 and Philox need 64-bit or 32x32->64 products that
//   JavaScript can only emulate, several times slower;
// - 128 bits of state (period 2^128 - 1), passes BigCrush, and all 32 output bits are usable (the **
//   scrambler), so one draw can be cut into fields (ziggurat layer, sign) without weak low bits;
// - the authors' recommended seeding is splitmix64, also tiny and published.
// Seeding: the seed (an integer in [0, 2^64)) is the "key"; splitmix64 started at the key gives two
// 64-bit words, which fill the four 32-bit state words low half first.
// Streams: fork(id) derives a child key from (key, id) with the splitmix64 finaliser, so child streams
// depend only on the seed and the id, never on how much the parent has drawn.
//
// Normals: 256-layer ziggurat (ziggurat.ts). Per sample one 32-bit draw gives the layer (bits 0-7) and
// the sign (bit 8), a second gives a 32-bit magnitude; 98.5% of samples need nothing more, the rest one
// exp or two logs from portable-math.ts. So no engine-provided transcendental ever touches a sample.
//
// Golden values in test/tensor/rng.test.ts come from tools/rng_golden.py, an independent Python
// implementation of the published algorithms.

import { ZIGGURAT, zigguratSlowPath } from "./ziggurat.js";

export const RNG_ALGORITHM = "xoshiro128**";

/** A generator's full position, JSON-friendly: `Rng.fromState(JSON.parse(JSON.stringify(s)))` resumes it. */
export interface RngState {
  algorithm: typeof RNG_ALGORITHM;
  /** The 64-bit seed key that fork() derives children from, as 16 lowercase hex digits. */
  key: string;
  /** The four 32-bit state words, as unsigned integers; not all zero. */
  s: [number, number, number, number];
}

const MASK64 = (1n << 64n) - 1n;
const GOLDEN_GAMMA = 0x9e3779b97f4a7c15n; // splitmix64's increment: 2^64 / golden ratio, odd
// domain separation for fork(): the first 64 bits of the fractional part of sqrt(2) (SHA-512's H0),
// so that a child key is not simply the finaliser of the id
const FORK_DOMAIN = 0x6a09e667f3bcc908n;

/** splitmix64's output function (a bijection on 64-bit words; Steele, Lea & Flood 2014, Vigna's variant). */
function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

function key64(op: string, name: string, x: number | bigint): bigint {
  if (typeof x === "number") {
    if (!Number.isSafeInteger(x) || x < 0) throw new Error(`${op}: ${name} ${x} is not allowed; allowed: an integer in [0, 2^53) as a number, or a bigint in [0, 2^64)`);
    return BigInt(x);
  }
  if (typeof x === "bigint") {
    if (x < 0n || x > MASK64) throw new Error(`${op}: ${name} ${x}n is not allowed; allowed: a bigint in [0, 2^64)`);
    return x;
  }
  throw new Error(`${op}: ${name} has type ${typeof x}; allowed: number or bigint`);
}

const TWO_POW_M24 = 1 / 16777216;
const TWO_POW_M53 = 1 / 9007199254740992;

export class Rng {
  // xoshiro128** state, held as int32 (what the bit ops produce); exposed as uint32 by getState
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private key = 0n;
  private readonly uniformFn = (): number => this.uniform();

  /** seed: an integer in [0, 2^53) or a bigint in [0, 2^64). */
  constructor(seed: number | bigint) {
    this.seedFromKey(key64("Rng", "seed", seed));
  }

  private seedFromKey(key: bigint): void {
    const z0 = mix64((key + GOLDEN_GAMMA) & MASK64);
    const z1 = mix64((key + 2n * GOLDEN_GAMMA) & MASK64);
    // mix64 is a bijection with mix64(0) = 0, and its two inputs differ, so the state is never all zero
    this.s0 = Number(z0 & 0xffffffffn) | 0;
    this.s1 = Number(z0 >> 32n) | 0;
    this.s2 = Number(z1 & 0xffffffffn) | 0;
    this.s3 = Number(z1 >> 32n) | 0;
    this.key = key;
  }

  /** The next 32-bit output, an integer in [0, 2^32). */
  nextUint32(): number {
    const s1 = this.s1;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 = s1 ^ this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits (two draws: the top 27 bits of one, the top 26 of the next). */
  uniform(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) * TWO_POW_M53;
  }

  /** Fills `out` with uniforms in [0, 1): the top 24 bits of one draw each, so exact in float32 and never 1. */
  fillUniform(out: Float32Array): Float32Array {
    let s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3;
    for (let k = 0; k < out.length; k++) {
      // xoshiro128** step, inlined (see nextUint32): locals keep the state in registers
      const m = Math.imul(s1, 5);
      const r = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[k] = (r >>> 8) * TWO_POW_M24;
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
    return out;
  }

  /** A standard normal sample (float64; fillNormal stores the float32 rounding of the same sequence). */
  normal(): number {
    const a = this.nextUint32();
    const j = this.nextUint32();
    const i = a & 255;
    if (j < ZIGGURAT.accept[i]) {
      const x = j * ZIGGURAT.scale[i];
      return a & 256 ? -x : x;
    }
    return this.normalAfterMiss(a, j);
  }

  /** Finishes a ziggurat draw whose first try (layer and magnitude from draws a, j) missed the fast path. */
  private normalAfterMiss(a: number, j: number): number {
    for (;;) {
      const m = zigguratSlowPath(a & 255, j, this.uniformFn);
      if (m >= 0) return a & 256 ? -m : m;
      a = this.nextUint32();
      j = this.nextUint32();
      const i = a & 255;
      if (j < ZIGGURAT.accept[i]) {
        const x = j * ZIGGURAT.scale[i];
        return a & 256 ? -x : x;
      }
    }
  }

  /**
   * Fills `out` with normal samples of the given mean and standard deviation. With mean 0 and std 1,
   * out[k] is exactly Math.fround of the k-th normal() this generator would have returned.
   */
  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    if (!Number.isFinite(mean)) throw new Error(`Rng.fillNormal: mean ${mean} is not allowed; allowed: a finite number`);
    if (!Number.isFinite(std) || std < 0) throw new Error(`Rng.fillNormal: std ${std} is not allowed; allowed: a finite number >= 0`);
    const { accept, scale } = ZIGGURAT;
    const standard = mean === 0 && std === 1;
    let s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3;
    for (let k = 0; k < out.length; k++) {
      // draw a: ziggurat layer (bits 0-7) and sign (bit 8); inlined xoshiro128** step as in nextUint32
      let m = Math.imul(s1, 5);
      const a = Math.imul((m << 7) | (m >>> 25), 9);
      let t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      // draw j: 32-bit magnitude within the layer
      m = Math.imul(s1, 5);
      const j = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
      t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      const i = a & 255;
      let z: number;
      if (j < accept[i]) {
        const x = j * scale[i];
        z = a & 256 ? -x : x;
      } else {
        // rare: hand the state to the methods, which draw more, and take it back
        this.s0 = s0;
        this.s1 = s1;
        this.s2 = s2;
        this.s3 = s3;
        z = this.normalAfterMiss(a, j);
        s0 = this.s0;
        s1 = this.s1;
        s2 = this.s2;
        s3 = this.s3;
      }
      out[k] = standard ? z : mean + std * z;
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
    return out;
  }

  /**
   * An independent generator for stream `streamId` (an integer in [0, 2^53) or a bigint in [0, 2^64)),
   * a function of this generator's seed key and the id only: forking before or after drawing gives the
   * same child, and distinct ids give distinct keys (the derivation is a bijection in the id).
   */
  fork(streamId: number | bigint): Rng {
    const id = key64("Rng.fork", "streamId", streamId);
    const child = new Rng(0);
    child.seedFromKey(mix64(this.key ^ mix64(id ^ FORK_DOMAIN)));
    return child;
  }

  getState(): RngState {
    return {
      algorithm: RNG_ALGORITHM,
      key: this.key.toString(16).padStart(16, "0"),
      s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0],
    };
  }

  /** Moves this generator to `state` (validated; errors name the field). */
  setState(state: RngState): void {
    const where = "Rng.setState";
    if (typeof state !== "object" || state === null) throw new Error(`${where}: state is ${String(state)}; allowed: an object from getState()`);
    if (state.algorithm !== RNG_ALGORITHM) throw new Error(`${where}: state.algorithm is ${JSON.stringify(state.algorithm)}; allowed: "${RNG_ALGORITHM}"`);
    if (typeof state.key !== "string" || !/^[0-9a-f]{16}$/.test(state.key)) {
      throw new Error(`${where}: state.key is ${JSON.stringify(state.key)}; allowed: 16 lowercase hex digits`);
    }
    const s = state.s;
    if (!Array.isArray(s) || s.length !== 4 || !s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      throw new Error(`${where}: state.s is ${JSON.stringify(s)}; allowed: 4 integers in [0, 2^32)`);
    }
    if (s.every((w) => w === 0)) throw new Error(`${where}: state.s is all zero, which xoshiro128** never reaches; allowed: not all zero`);
    this.key = BigInt(`0x${state.key}`);
    this.s0 = s[0] | 0;
    this.s1 = s[1] | 0;
    this.s2 = s[2] | 0;
    this.s3 = s[3] | 0;
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }
}
