import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../../src/tensor/rng.js";

// Statistical checks. Seeds are fixed, so each test is deterministic; the bounds are what a correct
// generator meets with probability about 1 - 1e-6 (5 sigma, or the equivalent quantile), so a biased
// sampler (a wrong table, a lost tail, a sign bit tied to the magnitude) fails them.

// Q(a) = P(Z > a) for a = 4.5, 4.25, ..., 0, printed by python3 as 0.5 * math.erfc(a / math.sqrt(2)).
const UPPER_TAIL = [
  3.3976731247300615e-6, 1.068852577493443e-5, 3.1671241833119965e-5, 8.841728520080404e-5, 0.00023262907903552504,
  0.0005770250423907673, 0.0013498980316300957, 0.0029797632350545573, 0.006209665325776139, 0.012224472655044704,
  0.02275013194817922, 0.04005915686381709, 0.06680720126885809, 0.10564977366685528, 0.15865525393145707,
  0.2266273523768682, 0.3085375387259869, 0.4012936743170763, 0.5,
];

/** Standard normal CDF from the Maclaurin series of erf; accurate to ~1e-13 for |x| <= 6, enough for KS. */
function normalCdf(x: number): number {
  if (x < 0) return 1 - normalCdf(-x);
  if (x > 8) return 1;
  const y = x / Math.SQRT2;
  // erf(y) = 2/sqrt(pi) sum (-1)^n y^(2n+1) / (n! (2n+1))
  let term = y;
  let sum = y;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17; n++) {
    term *= (-y * y) / n;
    sum += term / (2 * n + 1);
  }
  return 0.5 + sum / Math.sqrt(Math.PI);
}

function moments(x: Float32Array): { mean: number; variance: number; skew: number; kurtosis: number } {
  let s = 0;
  for (const v of x) s += v;
  const m = s / x.length;
  let m2 = 0, m3 = 0, m4 = 0;
  for (const v of x) {
    const d = v - m;
    const d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  m2 /= x.length;
  m3 /= x.length;
  m4 /= x.length;
  return { mean: m, variance: m2, skew: m3 / m2 ** 1.5, kurtosis: m4 / (m2 * m2) - 3 };
}

/** sqrt(n) * sup |F_n - F| for the sorted sample. */
function ksStatistic(sorted: Float32Array | Float64Array, cdf: (x: number) => number): number {
  const n = sorted.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(sorted[i]);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return Math.sqrt(n) * d;
}
// P(sqrt(n) D > 2.7) ~ 2 exp(-2 * 2.7^2) = 9e-7
const KS_BOUND = 2.7;

function correlation(a: Float32Array, b: Float32Array): number {
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    sab += a[i] * b[i];
    saa += a[i] * a[i];
    sbb += b[i] * b[i];
  }
  return sab / Math.sqrt(saa * sbb);
}

test("the test's own normal CDF agrees with Python's erfc at the bin edges", () => {
  for (let k = 0; k < UPPER_TAIL.length; k++) {
    const a = 4.5 - 0.25 * k;
    assert.ok(Math.abs(normalCdf(-a) - UPPER_TAIL[k]) < 1e-13, `Phi(${-a})`);
  }
});

test("1e6 normals: mean, variance, skewness and excess kurtosis within 5 sigma of N(0, 1)", () => {
  const n = 1_000_000;
  const m = moments(new Rng(12345).fillNormal(new Float32Array(n)));
  // standard errors: mean 1/sqrt(n), variance sqrt(2/n), skewness sqrt(6/n), kurtosis sqrt(24/n)
  assert.ok(Math.abs(m.mean) < 5 / Math.sqrt(n), `mean ${m.mean}`);
  assert.ok(Math.abs(m.variance - 1) < 5 * Math.sqrt(2 / n), `variance ${m.variance}`);
  assert.ok(Math.abs(m.skew) < 5 * Math.sqrt(6 / n), `skewness ${m.skew}`);
  assert.ok(Math.abs(m.kurtosis) < 5 * Math.sqrt(24 / n), `excess kurtosis ${m.kurtosis}`);
});

test("1e6 normals pass a Kolmogorov-Smirnov test against the normal CDF", () => {
  const x = new Rng(777).fillNormal(new Float32Array(1_000_000)).sort();
  const ks = ksStatistic(x, normalCdf);
  assert.ok(ks < KS_BOUND, `sqrt(n) D = ${ks}`);
});

test("1e7 normals: chi-square over 38 bins out to +-4.5, tail beyond r, and the far tail is reached", () => {
  const n = 10_000_000;
  const x = new Rng(31337).fillNormal(new Float32Array(n));
  // bins: (-inf, -4.5), [-4.5, -4.25), ..., [4.25, 4.5), [4.5, inf)
  const counts = new Float64Array(38);
  let beyondR = 0;
  let maxAbs = 0;
  for (const v of x) {
    const k = v < -4.5 ? 0 : v >= 4.5 ? 37 : 1 + Math.floor((v + 4.5) * 4);
    counts[k]++;
    const a = Math.abs(v);
    if (a > 3.6541528853610088) beyondR++;
    if (a > maxAbs) maxAbs = a;
  }
  const cdfAtEdge = (k: number): number => (k <= 18 ? UPPER_TAIL[k] : 1 - UPPER_TAIL[36 - k]); // edge -4.5 + k/4
  let chi2 = 0;
  for (let k = 0; k < 38; k++) {
    const lo = k === 0 ? 0 : cdfAtEdge(k - 1);
    const hi = k === 37 ? 1 : cdfAtEdge(k);
    const expected = n * (hi - lo);
    chi2 += (counts[k] - expected) ** 2 / expected;
  }
  // 37 degrees of freedom: P(chi2 > 93) ~ 1e-6 (Wilson-Hilferty)
  assert.ok(chi2 < 93, `chi2 = ${chi2}`);
  // the ziggurat's tail path: P(|Z| > r) = 2.580324876539013e-4 (python3 erfc)
  const expectedBeyond = n * 2.580324876539013e-4;
  assert.ok(Math.abs(beyondR - expectedBeyond) < 5 * Math.sqrt(expectedBeyond), `${beyondR} beyond r, expected ${expectedBeyond}`);
  // past the bottom layer's width x[0] = 3.91 only the tail method reaches; P(max |Z| < 4.9) = 7e-5
  assert.ok(maxAbs > 4.9, `max |z| = ${maxAbs}`);
});

test("normals: neighbours within a stream and forked streams are uncorrelated", () => {
  const n = 1_000_000;
  const root = new Rng(4242);
  const x = root.fillNormal(new Float32Array(n + 1));
  const bound = 5 / Math.sqrt(n);
  const lag1 = correlation(x.subarray(0, n), x.subarray(1));
  assert.ok(Math.abs(lag1) < bound, `lag-1 correlation ${lag1}`);
  const a = root.fork(0).fillNormal(new Float32Array(n));
  const b = root.fork(1).fillNormal(new Float32Array(n));
  const c = new Rng(4242).fillNormal(new Float32Array(n));
  assert.ok(Math.abs(correlation(a, b)) < bound, `fork(0) vs fork(1): ${correlation(a, b)}`);
  assert.ok(Math.abs(correlation(a, c)) < bound, `fork(0) vs parent: ${correlation(a, c)}`);
});

test("uniforms: mean, variance, KS and the balance of every output bit", () => {
  const n = 1_000_000;
  const rng = new Rng(2718);
  const u = new Float64Array(n);
  for (let i = 0; i < n; i++) u[i] = rng.uniform();
  let s = 0;
  for (const v of u) s += v;
  const mean = s / n;
  let ss = 0;
  for (const v of u) ss += (v - mean) ** 2;
  const variance = ss / n;
  assert.ok(Math.abs(mean - 0.5) < 5 * Math.sqrt(1 / 12 / n), `mean ${mean}`);
  assert.ok(Math.abs(variance - 1 / 12) < 5 * Math.sqrt(1 / 180 / n), `variance ${variance}`);
  assert.ok(ksStatistic(u.sort(), (x) => x) < KS_BOUND);
  const f = rng.fillUniform(new Float32Array(n)).sort();
  assert.ok(ksStatistic(f, (x) => x) < KS_BOUND);

  const ones = new Float64Array(32);
  for (let i = 0; i < n; i++) {
    const w = rng.nextUint32();
    for (let b = 0; b < 32; b++) ones[b] += (w >>> b) & 1;
  }
  for (let b = 0; b < 32; b++) assert.ok(Math.abs(ones[b] - n / 2) < 5 * Math.sqrt(n / 4), `bit ${b}: ${ones[b]} ones`);
});
