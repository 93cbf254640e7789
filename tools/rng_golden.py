#!/usr/bin/env python3
"""Golden values for src/tensor/rng.ts, from an independent pure-Python implementation.

Written from the published algorithms, not from the TypeScript:
- splitmix64: Steele, Lea & Flood, "Fast splittable pseudorandom number generators" (OOPSLA 2014), in
  the form of Vigna's reference splitmix64.c;
- xoshiro128** 1.1: Blackman & Vigna, "Scrambled linear pseudorandom number generators" (ACM TOMS 2021),
  reference xoshiro128starstar.c;
- the ziggurat: Marsaglia & Tsang (J. Stat. Software 5(8), 2000), 256 layers, here with the layer
  tables computed from Python's math.exp / math.log / math.erfc (the TypeScript uses its own portable
  exp/log and a continued fraction for the tail area), and Marsaglia's 1964 tail method.
The project-specific conventions (key -> state words, fork derivation, bit fields of a draw) are the
ones documented in rng.ts; they are restated below.

Run: python3 tools/rng_golden.py   (prints the literals pasted into test/tensor/rng.test.ts)
"""
import math
import struct

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1


def splitmix64_mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class SplitMix64:
    def __init__(self, x):
        self.x = x & M64

    def next(self):
        self.x = (self.x + 0x9E3779B97F4A7C15) & M64
        return splitmix64_mix(self.x)


def rotl32(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


class Xoshiro128ss:
    def __init__(self, key):
        self.key = key
        sm = SplitMix64(key)
        z0, z1 = sm.next(), sm.next()
        self.s = [z0 & M32, z0 >> 32, z1 & M32, z1 >> 32]

    def next(self):
        s = self.s
        result = (rotl32((s[1] * 5) & M32, 7) * 9) & M32
        t = (s[1] << 9) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl32(s[3], 11)
        return result

    def fork(self, stream_id):
        return Xoshiro128ss(splitmix64_mix(self.key ^ splitmix64_mix(stream_id ^ 0x6A09E667F3BCC908)))

    def uniform(self):
        a = self.next() >> 5
        b = self.next() >> 6
        return (a * 2**26 + b) / 2**53

    def uniform_f32(self):
        return (self.next() >> 8) / 2**24


# ---- ziggurat tables ---------------------------------------------------------------------------------
N = 256


def f(x):
    return math.exp(-0.5 * x * x)


def edges(r):
    v = r * f(r) + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
    x = [0.0] * (N + 1)
    x[0] = v / f(r)
    x[1] = r
    for k in range(1, N - 1):
        top = f(x[k]) + v / x[k]
        if top >= 1:
            return None
        x[k + 1] = math.sqrt(-2 * math.log(top))
    x[N] = 0.0
    return x, v, x[N - 1] * (1 - f(x[N - 1])) - v


def tables():
    lo, hi = 3.0, 4.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid == lo or mid == hi:
            break
        e = edges(mid)
        if e is None or e[2] < 0:
            lo = mid
        else:
            hi = mid
    x, v, _ = edges(hi)
    return hi, v, x


R, V, X = tables()
FX = [f(x) for x in X]


def normal(g, stats):
    """One sample: draw a gives layer (bits 0-7) and sign (bit 8), draw j a 32-bit magnitude."""
    while True:
        a = g.next()
        j = g.next()
        i = a & 255
        neg = (a >> 8) & 1
        x = j * 2.0**-32 * X[i]  # same point as j * (x[i] 2^-32): scaling by 2^-32 is exact
        if x < X[i + 1]:
            return -x if neg else x
        stats["slow"] += 1
        if i == 0:
            while True:
                t = -math.log(1 - g.uniform()) / R
                y = -math.log(1 - g.uniform())
                if y + y > t * t:
                    stats["tail"] += 1
                    x = R + t
                    return -x if neg else x
        y = FX[i] + g.uniform() * (FX[i + 1] - FX[i])
        if y < f(x):
            return -x if neg else x
        stats["rejected"] += 1


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def f32bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def fnv1a32(words):
    h = 0x811C9DC5
    for w in words:
        for k in range(4):
            h ^= (w >> (8 * k)) & 0xFF
            h = (h * 0x01000193) & M32
    return h


def main():
    sm = SplitMix64(1234567)
    print("splitmix64(1234567) first 5:", [sm.next() for _ in range(5)])
    print(f"ziggurat r = {R!r}, v = {V!r}, x[0] = {X[0]!r}, x[255] = {X[255]!r}")
    for seed in (0, 1, 42, (1 << 64) - 1):
        g = Xoshiro128ss(seed)
        state = list(g.s)
        print(f"seed {seed}: state {state}; nextUint32 x8: {[g.next() for _ in range(8)]}")
    g = Xoshiro128ss(42)
    for _ in range(1000):
        g.next()
    state = list(g.s)
    print("seed 42 after 1000 draws: state", state, "next", g.next())
    base = Xoshiro128ss(42)
    for sid in (0, 1, 7, (1 << 64) - 1):
        c = base.fork(sid)
        print(f"seed 42 fork({sid}): key {c.key:016x}; nextUint32 x4: {[c.next() for _ in range(4)]}")
    c = base.fork(3).fork(5)
    print("seed 42 fork(3).fork(5): nextUint32 x4:", [c.next() for _ in range(4)])
    g = Xoshiro128ss(42)
    print("seed 42 uniform() x4:", [repr(g.uniform()) for _ in range(4)])
    g = Xoshiro128ss(42)
    print("seed 42 fillUniform x4:", [repr(g.uniform_f32()) for _ in range(4)])
    for seed in (42, 7):
        g = Xoshiro128ss(seed)
        stats = {"slow": 0, "tail": 0, "rejected": 0}
        vals = [f32(normal(g, stats)) for _ in range(100000)]
        print(f"seed {seed} normals (float32) first 8: {[repr(v) for v in vals[:8]]}")
        print(f"seed {seed} normals: FNV-1a of float32 bits of first 100000 = {fnv1a32(f32bits(v) for v in vals):#010x}; {stats}")


if __name__ == "__main__":
    main()
