import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng, type RngState } from "../../src/tensor/rng.js";
import { assertSameBits, fnv1a32 } from "./helpers.js";

// Golden values: printed by `python3 tools/rng_golden.py`, an independent pure-Python implementation of
// the published splitmix64 and xoshiro128** 1.1 reference algorithms, of the fork derivation and the
// draw layout documented in rng.ts, and of the 256-layer ziggurat (tables from Python's math.exp/log/
// erfc). The xoshiro128** outputs for seed 42 were also checked once against the reference C code
// compiled with gcc. splitmix64 in that script reproduces the widely published sequence for 1234567
// (6457827717110365317, 3203168211198807973, ...).

const firstUint32 = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.nextUint32());

test("xoshiro128** seeded by splitmix64 matches the reference implementation", () => {
  const golden: [number | bigint, number[], number[]][] = [
    [0, [2065550767, 3793791033, 2713282036, 1853398634], [3737715805, 2584255861, 2876756834, 3286328325, 1553311962, 1625202774, 3260698944, 2754151956]],
    [1, [2298633409, 2433363436, 1703865447, 3203108257], [1695105466, 1423115009, 634581793, 1068227753, 716759206, 4186505319, 3777694425, 2710820970]],
    [42, [803958421, 3184996902, 2993090819, 686809907], [1776835114, 4165204688, 17111135, 2317295270, 2792088233, 2554630222, 2940343271, 2244566231]],
    [(1n << 64n) - 1n, [459615264, 3839455607, 3690365641, 3919575143], [477689756, 2493998634, 555695776, 607808419, 61340979, 301466976, 2478485284, 2565876330]],
  ];
  for (const [seed, state, outputs] of golden) {
    const rng = new Rng(seed);
    assert.deepEqual(rng.getState().s, state, `state for seed ${seed}`);
    assert.deepEqual(firstUint32(rng, 8), outputs, `outputs for seed ${seed}`);
  }
  const rng = new Rng(42);
  firstUint32(rng, 1000);
  assert.deepEqual(rng.getState().s, [2461400489, 3880440499, 1625279119, 3870270417]);
  assert.equal(rng.nextUint32(), 327466450);
});

test("fork derives the reference child keys and streams, independent of the parent's position", () => {
  const golden: [number | bigint, string, number[]][] = [
    [0, "ff6270cfc50cde48", [1423671266, 4009470446, 3361715473, 3813234362]],
    [1, "acfb24826f67300f", [2542294560, 3521154779, 3051543019, 3540504750]],
    [7, "52c52f3905f0a02c", [2288886912, 2291334440, 1826391977, 3161941737]],
    [(1n << 64n) - 1n, "26f9c78d09f071d7", [2629099297, 3236199640, 2531823806, 1948850073]],
  ];
  const parent = new Rng(42);
  for (const [id, key, outputs] of golden) {
    const child = parent.fork(id);
    assert.equal(child.getState().key, key);
    assert.deepEqual(firstUint32(child, 4), outputs);
  }
  assert.deepEqual(firstUint32(new Rng(42).fork(3).fork(5), 4), [11931452, 2697126777, 1617208465, 1415823270]);
  // drawing from the parent does not move its children
  firstUint32(parent, 17);
  assert.deepEqual(firstUint32(parent.fork(7), 4), golden[2][2]);
  assert.deepEqual(firstUint32(parent.fork(7n), 1), [golden[2][2][0]]);
});

test("uniform() and fillUniform() match the reference construction", () => {
  const u = new Rng(42);
  assert.deepEqual([u.uniform(), u.uniform(), u.uniform(), u.uniform()], [0.4137016681565887, 0.003983993377814743, 0.6500837027638867, 0.6846020186141416]);
  const f = new Rng(42).fillUniform(new Float32Array(4));
  assert.deepEqual(Array.from(f), [0.4137016534805298, 0.9697872400283813, 0.003983974456787109, 0.5395373106002808]);
});

test("fillUniform values are multiples of 2^-24 in [0, 1)", () => {
  const f = new Rng(5).fillUniform(new Float32Array(100000));
  for (const x of f) {
    assert.ok(x >= 0 && x < 1, `${x} out of [0, 1)`);
    assert.ok(Number.isInteger(x * 2 ** 24));
  }
});

test("normals match the reference ziggurat bit for bit, tail and wedge paths included", () => {
  // the Python run reports 1468 (seed 42) and 1554 (seed 7) slow-path draws among the 100000, of
  // which 26 and 33 in the tail, so the hash covers every path
  const cases: [number, number[], number][] = [
    [42, [2.1913673877716064, 0.9544051289558411, 0.7491558790206909, -0.3914598524570465, 1.32040274143219, -0.2181287407875061, 0.7110124230384827, 0.39724618196487427], 0xddc79976],
    [7, [0.7297366857528687, 1.618213415145874, -0.2536146342754364, 0.17110899090766907, 0.7435868382453918, 1.721378207206726, -2.0343642234802246, -0.20156854391098022], 0xff0a8ade],
  ];
  for (const [seed, first, hash] of cases) {
    const out = new Rng(seed).fillNormal(new Float32Array(100000));
    assert.deepEqual(Array.from(out.subarray(0, 8)), first);
    assert.equal(fnv1a32(new Uint32Array(out.buffer)), hash, `seed ${seed}`);
  }
});

test("normal() gives the same sequence as fillNormal, and chunked fills equal one fill", () => {
  const n = 50000; // about 750 slow-path draws, so state hand-over in fillNormal is exercised
  const whole = new Rng(99).fillNormal(new Float32Array(n));
  const scalar = new Rng(99);
  const one = new Float32Array(n);
  for (let k = 0; k < n; k++) one[k] = scalar.normal();
  assertSameBits(one, whole);
  const chunked = new Float32Array(n);
  const rng = new Rng(99);
  for (let at = 0; at < n; at += 997) rng.fillNormal(chunked.subarray(at, Math.min(n, at + 997)));
  assertSameBits(chunked, whole);
});

test("fillNormal with mean and std is mean + std * z of the standard sequence", () => {
  const z = new Rng(3).fillNormal(new Float32Array(1000));
  const y = new Rng(3).fillNormal(new Float32Array(1000), 2, 0.5);
  for (let k = 0; k < z.length; k++) assert.ok(Math.abs(y[k] - (2 + 0.5 * z[k])) <= 4e-7 * Math.max(1, Math.abs(y[k])));
  assert.throws(() => new Rng(1).fillNormal(new Float32Array(1), 0, -1), /Rng.fillNormal: std -1 is not allowed; allowed: a finite number >= 0/);
  assert.throws(() => new Rng(1).fillNormal(new Float32Array(1), NaN), /Rng.fillNormal: mean NaN is not allowed/);
});

test("determinism: same seed same bits; number and bigint seeds agree; different seeds differ", () => {
  const a = new Rng(123).fillNormal(new Float32Array(10000));
  const b = new Rng(123n).fillNormal(new Float32Array(10000));
  assertSameBits(a, b);
  const c = new Rng(124).fillNormal(new Float32Array(10000));
  let same = 0;
  for (let k = 0; k < a.length; k++) if (a[k] === c[k]) same++;
  assert.ok(same < 5, `${same} equal samples across seeds 123 and 124`);
  assert.notDeepEqual(firstUint32(new Rng(0), 4), firstUint32(new Rng(2 ** 53 - 1), 4));
});

test("getState / fromState resume the exact sequence through a JSON round trip", () => {
  const rng = new Rng(2023);
  rng.fillNormal(new Float32Array(12345));
  rng.uniform();
  const saved: RngState = JSON.parse(JSON.stringify(rng.getState()));
  const expected = rng.fillNormal(new Float32Array(5000));
  const expectedInts = firstUint32(rng, 10);
  const resumed = Rng.fromState(saved);
  assertSameBits(resumed.fillNormal(new Float32Array(5000)), expected);
  assert.deepEqual(firstUint32(resumed, 10), expectedInts);
  assert.deepEqual(resumed.fork(4).getState(), new Rng(2023).fork(4).getState());
  const moved = new Rng(1);
  moved.setState(saved);
  assertSameBits(moved.fillNormal(new Float32Array(5000)), expected);
});

test("seeds, stream ids and states are validated with messages that name the field", () => {
  assert.throws(() => new Rng(-1), /Rng: seed -1 is not allowed; allowed: an integer in \[0, 2\^53\) as a number, or a bigint in \[0, 2\^64\)/);
  assert.throws(() => new Rng(1.5), /Rng: seed 1.5 is not allowed/);
  assert.throws(() => new Rng(NaN), /Rng: seed NaN is not allowed/);
  assert.throws(() => new Rng(1n << 64n), /Rng: seed 18446744073709551616n is not allowed; allowed: a bigint in \[0, 2\^64\)/);
  assert.throws(() => new Rng("42" as never), /Rng: seed has type string; allowed: number or bigint/);
  assert.throws(() => new Rng(1).fork(-2), /Rng.fork: streamId -2 is not allowed/);
  const good = new Rng(1).getState();
  assert.throws(() => Rng.fromState({ ...good, algorithm: "mt19937" as never }), /Rng.setState: state.algorithm is "mt19937"; allowed: "xoshiro128\*\*"/);
  assert.throws(() => Rng.fromState({ ...good, key: "12" }), /Rng.setState: state.key is "12"; allowed: 16 lowercase hex digits/);
  assert.throws(() => Rng.fromState({ ...good, s: [0, 0, 0, 0] }), /state.s is all zero/);
  assert.throws(() => Rng.fromState({ ...good, s: [1, 2, 3] as never }), /Rng.setState: state.s is \[1,2,3\]; allowed: 4 integers in \[0, 2\^32\)/);
  assert.throws(() => Rng.fromState({ ...good, s: [1, 2, 3, 2 ** 32] }), /state.s is/);
  assert.throws(() => Rng.fromState(null as never), /Rng.setState: state is null/);
});
